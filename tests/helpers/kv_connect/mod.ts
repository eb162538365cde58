/**
 * Test helpers around the KV Connect server: open it the way the service does
 * (`Deno.openKv(url)` with DENO_KV_ACCESS_TOKEN in the environment), and the
 * child-process environment for main.ts and the CLIs.
 */
import { type KvConnectOptions, type KvConnectServer, startKvConnect } from "./server.ts";

export { type KvConnectServer, startKvConnect };

export const ACCESS_TOKEN = "kvconnect-test-access-token-0123456789";

/** Runs `fn` with a fresh server; always closes it. */
export async function withKvConnect(
  fn: (server: KvConnectServer) => Promise<void>,
  options: Partial<KvConnectOptions> = {},
): Promise<void> {
  const server = startKvConnect({ accessToken: ACCESS_TOKEN, ...options });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/**
 * Deno reads the access token from the process environment when it opens a KV
 * Connect URL; it is set just for the open, then restored.
 */
export async function openRemoteKv(url: string, token = ACCESS_TOKEN): Promise<Deno.Kv> {
  const before = Deno.env.get("DENO_KV_ACCESS_TOKEN");
  Deno.env.set("DENO_KV_ACCESS_TOKEN", token);
  try {
    return await Deno.openKv(url);
  } finally {
    if (before === undefined) Deno.env.delete("DENO_KV_ACCESS_TOKEN");
    else Deno.env.set("DENO_KV_ACCESS_TOKEN", before);
  }
}

/** A child process's environment: only what Deno itself needs, plus `extra`. */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", ...extra };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** A loopback port nothing listens on (bound, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
