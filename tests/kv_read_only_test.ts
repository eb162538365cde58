/**
 * A KV file the service may read but not write (README, Doctor and Configuration): the doctor
 * fails it with the fix instead of passing it, the server's start and the admin CLI refuse it
 * in one line naming KV_PATH, and `admin list`, which only reads, still lists.
 */
import assert from "node:assert/strict";
import { adminCli } from "../cli/admin.ts";
import { formatFindings, runDoctor } from "../cli/doctor.ts";
import { KvOpenError, openStore, probeStoreWrite } from "../kv/open.ts";
import { withEmulator } from "./helpers/emulator.ts";
import { childEnv, freePort } from "./helpers/kv_connect/mod.ts";
import { spawnCollected } from "./helpers/child_process.ts";
import { snapshot } from "./helpers/demo_store.ts";
import { makeReadOnly, readOnlyFilesPossible, refusingWrites } from "./helpers/read_only_store.ts";
import type { Emulator } from "../emulator/mod.ts";

const SECRET = "whsec_" + "A1b2C3d4".repeat(4);
const SIGNING_KEY = "read-only-signing-key-0123456789abcdef";
const READ_ONLY = /the KV store at \S+kv\.sqlite3 \(KV_PATH\) is read-only/;
const FIX = /chmod u\+w.*chattr -i.*or set KV_PATH to a store it may write/;
/** root without `chattr` cannot make a file it may not write: those tests say so, not pass */
const CAN_MAKE_READ_ONLY = await readOnlyFilesPossible();
const NO_READ_ONLY = "no read-only file can be made here (root without chattr +i)";

function envFor(emu: Emulator, kvPath: string): Record<string, string> {
  return {
    KV_PATH: kvPath,
    STRIPE_SECRET_KEY: "sk_test_readonly",
    STRIPE_API_URL: emu.url,
    STRIPE_WEBHOOK_SECRETS: SECRET,
    AUDIT_SIGNING_KEY: SIGNING_KEY,
  };
}

async function adminRun(env: Record<string, string>, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await adminCli(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** A store with one admin, made read-only for `fn`; writable again and removed after. */
async function withReadOnlyStore(
  emu: Emulator,
  fn: (path: string, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kv_read_only_" });
  const path = `${dir}/kv.sqlite3`;
  const env = envFor(emu, path);
  let undo: (() => Promise<void>) | null = null;
  try {
    const made = await adminRun(env, "create", "--email", "ro@example.com", "--role", "admin");
    assert.equal(made.code, 0, made.stderr);
    undo = await makeReadOnly(path);
    assert.ok(undo, NO_READ_ONLY);
    await fn(path, env);
  } finally {
    await undo?.();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "the doctor fails a KV file it may only read, with the fix, instead of passing it",
  ignore: !CAN_MAKE_READ_ONLY,
  fn: () =>
    withEmulator(({ emu }) =>
      withReadOnlyStore(emu, async (_path, env) => {
        const findings = await runDoctor({ env, fetch: emu.fetch });
        const write = findings.find((f) => f.check === "kv write");
        assert.equal(write?.severity, "fail", formatFindings(findings));
        assert.match(write.detail, READ_ONLY);
        assert.match(write.fix ?? "", FIX);
        // what `deno task doctor` prints, and it exits 1 on a FAIL line
        assert.match(formatFindings(findings), /^FAIL {2}kv write: the KV store at/m);
        assert.doesNotMatch(formatFindings(findings), /all good/);
      })
    ),
});

Deno.test({
  name: "a server started on a read-only KV file exits 1 with one line naming KV_PATH and the fix",
  ignore: !CAN_MAKE_READ_ONLY,
  fn: () =>
    withEmulator(({ emu }) =>
      withReadOnlyStore(emu, async (_path, env) => {
        const server = spawnCollected(
          Deno.execPath(),
          ["run", "-A", "--quiet", "main.ts"],
          childEnv({ ...env, PORT: String(freePort()) }),
        );
        assert.equal(await server.exited(), 1, server.output());
        const out = server.output().trim();
        assert.match(out, READ_ONLY);
        assert.match(out, FIX);
        assert.equal(out.split("\n").length, 1, out);
        assert.doesNotMatch(out, /Uncaught|TypeError|at .*\.ts:\d+/);
      })
    ),
});

Deno.test({
  name: "the admin CLI on a read-only KV file: create refuses it naming KV_PATH; list still lists",
  ignore: !CAN_MAKE_READ_ONLY,
  fn: () =>
    withEmulator(({ emu }) =>
      withReadOnlyStore(emu, async (path, env) => {
        const before = await snapshot(path);
        const created = await adminRun(
          env,
          "create",
          "--email",
          "b@example.com",
          "--role",
          "admin",
        );
        assert.equal(created.code, 1, created.stderr);
        assert.match(created.stderr, /^error: the KV store at .* is read-only/);
        assert.match(created.stderr, FIX);
        // `list` only reads: it needs no write, so a read-only store is listed
        const listed = await adminRun(env, "list");
        assert.equal(listed.code, 0, listed.stderr);
        assert.match(listed.stdout, /ro@example\.com/);
        assert.deepEqual(await snapshot(path), before);
      })
    ),
});

Deno.test("a store that refuses writes is a KvOpenError naming KV_PATH and the fix, and a doctor FAIL", async () => {
  // for where no read-only file can be made: Deno's own refusal, on a real store's handle
  const dir = await Deno.makeTempDir({ prefix: "kv_read_only_" });
  try {
    const path = `${dir}/kv.sqlite3`;
    (await openStore(path)).close();
    const kv = refusingWrites(await Deno.openKv(path));
    try {
      await assert.rejects(probeStoreWrite(kv, path), (e) => {
        assert.ok(e instanceof KvOpenError);
        assert.match(e.message, READ_ONLY);
        assert.match(e.message, FIX);
        return true;
      });
    } finally {
      kv.close();
    }
    await withEmulator(async ({ emu }) => {
      const findings = await runDoctor({
        env: envFor(emu, path),
        fetch: emu.fetch,
        openKv: async (p) => refusingWrites(await Deno.openKv(p)),
      });
      const write = findings.find((f) => f.check === "kv write");
      assert.equal(write?.severity, "fail", formatFindings(findings));
      assert.match(write.detail, READ_ONLY);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
