/**
 * For the tests of the admin CLI and of demo mode's store rules (README, Quick
 * start, Commands): the admin CLI in-process, a temporary directory, a store's keys with their
 * versionstamps (what "nothing was written" compares), and main.ts in a child.
 */
import { adminCli } from "../../cli/admin.ts";
import { childEnv } from "./kv_connect/mod.ts";
import { spawnCollected } from "./child_process.ts";

/** The signing key a deployment's server runs with, in these tests. */
export const PROD_KEY = "production-signing-key-0123456789abcdef";

/** `deno task admin …` in-process: its exit code and both streams. */
export async function admin(env: Record<string, string>, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await adminCli(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** A temporary directory, removed after `fn`. */
export async function withDir(prefix: string, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every key with its versionstamp: what "nothing was written" compares. */
export async function snapshot(kvPath: string): Promise<string[]> {
  const kv = await Deno.openKv(kvPath);
  try {
    const rows: string[] = [];
    for await (const e of kv.list({ prefix: [] })) {
      rows.push(`${JSON.stringify(e.key)}@${e.versionstamp}`);
    }
    return rows;
  } finally {
    kv.close();
  }
}

/** main.ts in a child process with only `env`. */
export function startServer(env: Record<string, string>) {
  return spawnCollected(Deno.execPath(), ["run", "-A", "--quiet", "main.ts"], childEnv(env));
}
