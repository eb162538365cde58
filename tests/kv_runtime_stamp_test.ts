/**
 * The store's runtime stamp (kv/runtime_stamp.ts): Deno 2.5 (Deno Deploy)
 * cannot read values Deno 2.9 writes (V8 serializer 15 against 16), so a CLI
 * whose values the serving Deno cannot read, or that cannot read the store's,
 * is refused before it writes, and the doctor says so. The decisions are
 * checked with the stamps this Deno writes; a value in a newer format than
 * this Deno's is put in the KV Connect test server byte for byte (Deno 2.9.6
 * writes `ff 10 49 04` for the number 2); and, where a second Deno is at hand
 * (`deno` on PATH, or Deno 2.5.6 from npm), the admin CLI run with it against
 * a store this Deno serves.
 */
import assert from "node:assert/strict";
import { withKv } from "./helpers/kv.ts";
import { ACCESS_TOKEN, childEnv, openRemoteKv, withKvConnect } from "./helpers/kv_connect/mod.ts";
import { ROOT } from "./helpers/child_process.ts";
import { keys } from "../kv/keys.ts";
import { checkStoreLayout, StoreLayoutError } from "../kv/layout.ts";
import {
  checkStoreRuntime,
  judgeRuntime,
  readStoreRuntime,
  type StoreRuntime,
  StoreRuntimeError,
} from "../kv/runtime_stamp.ts";
import { runDoctor } from "../cli/doctor.ts";
import { mine, newer, older } from "./helpers/runtimes.ts";

const remote = { remote: true, task: "admin" } as const;

Deno.test("this Deno's serializer version is the one Deno KV writes (a value's first bytes: ff, version)", async () => {
  assert.ok(mine.serializer !== null, "Deno KV's serializer is reachable on this Deno");
  const dir = await Deno.makeTempDir({ prefix: "runtime_" });
  try {
    const marker = "payops-serializer-probe-7f3a9c";
    const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
    await kv.set(["probe"], marker);
    kv.close();
    const bytes = new Uint8Array([
      ...await Deno.readFile(`${dir}/kv.sqlite3`),
      ...await Deno.readFile(`${dir}/kv.sqlite3-wal`).catch(() => new Uint8Array()),
    ]);
    const text = new TextDecoder("latin1").decode(bytes);
    const at = text.indexOf(marker);
    assert.ok(at > 4, "the value is in the file");
    // 0xff, the version, then a one-byte string: 0x22 and its length
    assert.deepEqual([...bytes.subarray(at - 4, at)], [0xff, mine.serializer, 0x22, marker.length]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("judgeRuntime: the CLI on a store an older Deno serves is refused, naming both Denos and the npx fix", () => {
  const v = judgeRuntime(older, mine, "data", { role: "cli", ...remote });
  assert.equal(v.ok, false);
  if (v.ok) return;
  assert.match(v.message, new RegExp(`served by Deno 2\\.5\\.6 .*this Deno ${mine.deno}`));
  assert.equal(v.fix.includes("npx --yes deno@2.5.6 task admin"), true, v.fix);
  // locally too, when a server stamped it (it may be running)
  assert.equal(
    judgeRuntime(older, mine, "data", { role: "cli", ...remote, remote: false }).ok,
    false,
  );
});

Deno.test("judgeRuntime: a Deno older than the store's is refused everywhere; the server takes over an older store", () => {
  for (const role of ["server", "cli", "doctor"] as const) {
    const v = judgeRuntime(newer, mine, "data", { role, remote: false, task: "start" });
    assert.equal(v.ok, false, role);
    if (!v.ok) assert.match(v.fix, /npx --yes deno@9\.0\.0 task start/);
  }
  // a local store upgraded to this Deno: the server stamps it as its own
  assert.deepEqual(
    judgeRuntime(older, mine, "data", { role: "server", remote: false, task: "start" }),
    {
      ok: true,
      stamp: true,
    },
  );
  // the same Deno: nothing in the way, nothing written again
  const same = { ...mine, by: "server" as const };
  assert.deepEqual(judgeRuntime(same, mine, "data", { role: "cli", ...remote }), {
    ok: true,
    stamp: false,
  });
  assert.deepEqual(judgeRuntime(same, mine, "data", { role: "server", ...remote }), {
    ok: true,
    stamp: false,
  });
});

Deno.test("judgeRuntime: no stamp — local stores go on (a new one is stamped), a KV Connect store waits for its server", () => {
  const local = { role: "cli", remote: false, task: "admin" } as const;
  assert.deepEqual(judgeRuntime(null, mine, "empty", local), { ok: true, stamp: true });
  assert.deepEqual(judgeRuntime(null, mine, "data", local), { ok: true, stamp: false });
  const v = judgeRuntime(null, mine, "empty", { role: "cli", ...remote });
  assert.equal(v.ok, false);
  if (!v.ok) assert.match(v.fix, /start the deployment once/);
  // a local store a CLI started with an older Deno: this newer one takes the stamp over
  const byCli = { ...older, by: "cli" as const };
  assert.deepEqual(judgeRuntime(byCli, mine, "data", local), { ok: true, stamp: true });
  // values it cannot read, with no stamp to name their Deno
  const u = judgeRuntime(null, mine, "unreadable", {
    role: "server",
    remote: false,
    task: "start",
  });
  assert.equal(u.ok, false);
  if (!u.ok) assert.match(u.message, new RegExp(`newer Deno than this Deno ${mine.deno}`));
});

Deno.test("checkStoreRuntime: the server stamps its Deno; a CLI with another Deno's stamp is refused before writing", async () => {
  await withKv(async (kv) => {
    await checkStoreRuntime(kv, { role: "server", remote: false, task: "start" });
    const stamp = await readStoreRuntime(kv);
    assert.deepEqual(stamp.value, { ...mine, by: "server" });
    await checkStoreLayout(kv); // the runtime stamp alone is still an empty store
    await checkStoreRuntime(kv, { role: "cli", remote: true, task: "admin" });

    await kv.set(keys.storeRuntime(), new TextEncoder().encode(JSON.stringify(older)));
    await assert.rejects(
      () => checkStoreRuntime(kv, { role: "cli", remote: true, task: "admin" }),
      (e: Error) => {
        assert.ok(e instanceof StoreRuntimeError && e instanceof StoreLayoutError);
        assert.doesNotMatch(e.message, /\n/);
        assert.match(e.message, /nothing was written\. Run the CLI with the Deno the server runs/);
        return true;
      },
    );
    assert.equal((await readStoreRuntime(kv)).value?.deno, "2.5.6", "the stamp is left alone");
  });
});

/** A KV Connect store holding the layout stamp in a serializer version newer than this Deno's. */
async function withNewerValue(fn: (url: string) => Promise<void>, stamped: boolean) {
  await withKvConnect(async (server) => {
    const kv = await openRemoteKv(server.url);
    try {
      await kv.set(keys.storeLayout(), 2);
      if (stamped) {
        await kv.set(keys.storeRuntime(), new TextEncoder().encode(JSON.stringify(newer)));
      }
    } finally {
      kv.close();
    }
    const all = server.store.read({
      start: new Uint8Array([0]),
      end: new Uint8Array([0xff]),
      limit: 0,
      reverse: false,
    });
    const layout = all.find((e) => e.value[0] === 0xff)!;
    // what Deno 2.9.6 writes for 2 (ff 10 49 04), or one version past this Deno's on 2.9.6
    layout.value.set([0xff, Math.max(16, mine.serializer! + 1)]);
    await fn(server.url);
  });
}

Deno.test("a value this Deno cannot read, with no stamp: the server's start and the doctor say so in one line", async () => {
  await withNewerValue(async (url) => {
    const kv = await openRemoteKv(url);
    try {
      await assert.rejects(() => kv.get(keys.storeLayout()), /could not deserialize value/);
      await assert.rejects(
        () => checkStoreRuntime(kv, { role: "server", remote: true, task: "start" }),
        /holds values written by a newer Deno .* Start the server with the newer Deno/,
      );
    } finally {
      kv.close();
    }
    const findings = await runDoctor({
      env: { KV_PATH: url, DENO_KV_ACCESS_TOKEN: ACCESS_TOKEN, DEMO: "1" },
      openKv: (p) => openRemoteKv(p!),
    });
    const runtime = findings.find((f) => f.check === "kv runtime");
    assert.equal(runtime?.severity, "fail", JSON.stringify(findings));
    assert.ok(!findings.some((f) => f.check === "kv layout"), "nothing else reads the store");
  }, false);
});

Deno.test("the admin CLI on a store stamped by a newer Deno names it and the npx command, and writes nothing", async () => {
  await withNewerValue(async (url) => {
    const { adminCli } = await import("../cli/admin.ts");
    const err: string[] = [];
    const code = await adminCli(
      ["create", "--email", "x@example.com", "--role", "admin"],
      { KV_PATH: url, DENO_KV_ACCESS_TOKEN: ACCESS_TOKEN, DEMO: "1" },
      { out: () => {}, err: (l) => err.push(l) },
    );
    assert.equal(code, 1);
    assert.match(err.join("\n"), /served by Deno 9\.0\.0 .*npx --yes deno@9\.0\.0 task admin/);
  }, true);
});

/** Another Deno than this one, writing another serializer version; null when none is at hand. */
async function otherDeno(): Promise<{ cmd: string[]; runtime: StoreRuntime } | null> {
  const script = "import { currentRuntime } from './kv/runtime_stamp.ts'; " +
    "console.log(JSON.stringify(currentRuntime()))";
  for (const cmd of [["deno"], ["npx", "--yes", "deno@2.5.6"]]) {
    try {
      const out = await new Deno.Command(cmd[0], {
        args: [...cmd.slice(1), "eval", script],
        cwd: ROOT,
        env: childEnv({ DENO_TLS_CA_STORE: "system" }),
        clearEnv: true,
        stdout: "piped",
        stderr: "null",
      }).output();
      if (!out.success) continue;
      const runtime = JSON.parse(new TextDecoder().decode(out.stdout)) as StoreRuntime;
      if (runtime.serializer !== mine.serializer) return { cmd, runtime };
    } catch { /* not installed */ }
  }
  return null;
}

const other = await otherDeno();

Deno.test({
  name:
    "another Deno's admin CLI on a KV Connect store this Deno serves is refused, and writes nothing",
  ignore: other === null,
  async fn() {
    await withKvConnect(async (server) => {
      const kv = await openRemoteKv(server.url);
      await checkStoreRuntime(kv, { role: "server", remote: true, task: "start" });
      await checkStoreLayout(kv);
      const before = server.store.size;
      kv.close();
      const out = await new Deno.Command(other!.cmd[0], {
        args: [
          ...other!.cmd.slice(1),
          "task",
          "--quiet",
          "admin",
          "create",
          "--email",
          "o@example.com",
        ]
          .concat(["--role", "admin"]),
        cwd: ROOT,
        env: childEnv({
          KV_PATH: server.url,
          DENO_KV_ACCESS_TOKEN: ACCESS_TOKEN,
          DENO_TLS_CA_STORE: "system",
          AUDIT_SIGNING_KEY: "runtime-stamp-signing-key-0123456789abcdef",
          STRIPE_SECRET_KEY: "sk_test_runtime",
        }),
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      assert.match(
        stderr,
        new RegExp(
          `Deno ${mine.deno}\\b.*Deno ${other!.runtime.deno}\\b|` +
            `Deno ${other!.runtime.deno}\\b.*Deno ${mine.deno}\\b`,
        ),
      );
      assert.match(stderr, new RegExp(`npx --yes deno@${mine.deno} task admin`));
      assert.equal(server.store.size, before, "nothing was written");
    });
  },
});
