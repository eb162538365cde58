/**
 * A server on a newer Deno than the store's stamp (kv/runtime_stamp.ts): on a
 * local file it takes the store over (upgrading Deno locally); through a KV
 * Connect URL, where another server (a deployment on Deno 2.5) may still serve
 * the store, it refuses at start, before writing, naming both Denos, the
 * `npx --yes deno@… task start` to use and KV_RUNTIME_TAKEOVER=1, with which
 * it takes the store over (README, Deploying to Deno Deploy). Checked on the
 * decision for every role, on checkStoreRuntime against the KV Connect test
 * server, on main.ts's start, and on the doctor.
 */
import assert from "node:assert/strict";
import { withKv } from "./helpers/kv.ts";
import { ACCESS_TOKEN, childEnv, openRemoteKv, withKvConnect } from "./helpers/kv_connect/mod.ts";
import { ROOT } from "./helpers/child_process.ts";
import { keys } from "../kv/keys.ts";
import { StoreLayoutError } from "../kv/layout.ts";
import {
  checkStoreRuntime,
  judgeRuntime,
  readStoreRuntime,
  type StoreRole,
  type StoreRuntime,
  StoreRuntimeError,
} from "../kv/runtime_stamp.ts";
import { runDoctor } from "../cli/doctor.ts";
import { mine, newer, older } from "./helpers/runtimes.ts";

const same: StoreRuntime = { ...mine, by: "server" };
const roles: StoreRole[] = ["server", "cli", "doctor"];
const taskOf = (role: StoreRole) =>
  role === "server" ? "start" : role === "cli" ? "admin" : "doctor";

const encode = (r: StoreRuntime) => new TextEncoder().encode(JSON.stringify(r));

Deno.test("judgeRuntime: a stamp by an older Deno — a local server takes it over, a KV Connect one refuses unless told to", () => {
  for (const remote of [false, true]) {
    for (const role of roles) {
      const where = `${remote ? "remote" : "local"} ${role}`;
      const v = judgeRuntime(older, mine, "data", { role, remote, task: taskOf(role) });
      if (role === "server" && !remote) {
        assert.deepEqual(v, { ok: true, stamp: true }, where);
        continue;
      }
      assert.equal(v.ok, false, where);
      if (v.ok) continue;
      assert.equal(v.unreadable, false, where);
      assert.match(v.message, new RegExp(`Deno 2\\.5\\.6 .*this Deno ${mine.deno}\\b`), where);
      assert.ok(v.fix.includes(`npx --yes deno@2.5.6 task ${taskOf(role)}`), v.fix);
      // through a KV Connect URL only the opt-in moves the stamp; a local store's server moves it
      assert.equal(v.fix.includes("KV_RUNTIME_TAKEOVER=1"), remote, `${where}: ${v.fix}`);
    }
  }
  const server = { role: "server", remote: true, task: "start" } as const;
  const refused = judgeRuntime(older, mine, "data", server);
  if (!refused.ok) assert.match(refused.message, /KV Connect/);
  // the operator says this server replaces the old one: it stamps the store, and says so
  const taken = judgeRuntime(older, mine, "data", { ...server, takeover: true });
  assert.equal(taken.ok, true);
  if (taken.ok) {
    assert.equal(taken.stamp, true);
    assert.match(taken.note ?? "", new RegExp(`Deno 2\\.5\\.6 .*KV_RUNTIME_TAKEOVER`));
  }
  // the opt-in is the server's: the CLI and the doctor are still refused with it
  for (const role of ["cli", "doctor"] as const) {
    const v = judgeRuntime(older, mine, "data", {
      role,
      remote: true,
      task: taskOf(role),
      takeover: true,
    });
    assert.equal(v.ok, false, role);
  }
});

Deno.test("judgeRuntime: the same format and a newer stamp are decided as before, with or without the opt-in", () => {
  for (const remote of [false, true]) {
    for (const takeover of [false, true]) {
      for (const role of roles) {
        const check = { role, remote, task: taskOf(role), takeover };
        const where = `${remote ? "remote" : "local"} ${role}${takeover ? " takeover" : ""}`;
        assert.deepEqual(
          judgeRuntime(same, mine, "data", check),
          { ok: true, stamp: false },
          where,
        );
        const v = judgeRuntime(newer, mine, "data", check);
        assert.equal(v.ok, false, where);
        if (v.ok) continue;
        assert.equal(v.unreadable, true, where);
        assert.ok(v.fix.includes(`npx --yes deno@9.0.0 task ${taskOf(role)}`), v.fix);
        assert.ok(!v.fix.includes("KV_RUNTIME_TAKEOVER"), v.fix);
      }
    }
  }
  // no stamp: the server stamps the store, locally and through a KV Connect URL
  for (const remote of [false, true]) {
    assert.deepEqual(
      judgeRuntime(null, mine, "data", { role: "server", remote, task: "start" }),
      { ok: true, stamp: true },
    );
  }
});

async function stampOlder(url: string): Promise<void> {
  const kv = await openRemoteKv(url);
  try {
    await kv.set(keys.storeRuntime(), encode(older));
  } finally {
    kv.close();
  }
}

Deno.test("checkStoreRuntime: a newer Deno's server through a KV Connect URL writes nothing without the opt-in, and takes over with it", async () => {
  await withKvConnect(async (server) => {
    await stampOlder(server.url);
    const kv = await openRemoteKv(server.url);
    try {
      const before = await readStoreRuntime(kv);
      await assert.rejects(
        () => checkStoreRuntime(kv, { role: "server", remote: true, task: "start" }),
        (e: Error) => {
          assert.ok(e instanceof StoreRuntimeError && e instanceof StoreLayoutError);
          assert.doesNotMatch(e.message, /\n/);
          assert.match(e.message, new RegExp(`Deno 2\\.5\\.6 .*this Deno ${mine.deno}\\b`));
          assert.match(e.message, /nothing was written\. Start the server with Deno 2\.5\.6/);
          assert.match(e.message, /npx --yes deno@2\.5\.6 task start/);
          assert.match(e.message, /KV_RUNTIME_TAKEOVER=1/);
          return true;
        },
      );
      assert.equal(server.store.size, 1, "nothing but the stamp");
      assert.deepEqual(await readStoreRuntime(kv), before, "the stamp is left alone");

      const note = await checkStoreRuntime(kv, {
        role: "server",
        remote: true,
        task: "start",
        takeover: true,
      });
      assert.match(note ?? "", /KV_RUNTIME_TAKEOVER/);
      assert.deepEqual((await readStoreRuntime(kv)).value, same);
      // from now on the store is this Deno's: the next start needs no opt-in, and says nothing
      assert.equal(
        await checkStoreRuntime(kv, { role: "server", remote: true, task: "start" }),
        undefined,
      );
    } finally {
      kv.close();
    }
  });
});

Deno.test("checkStoreRuntime: on a local file a newer Deno's server takes the store over as before", async () => {
  await withKv(async (kv) => {
    await kv.set(keys.storeRuntime(), encode(older));
    assert.equal(
      await checkStoreRuntime(kv, { role: "server", remote: false, task: "start" }),
      undefined,
    );
    assert.deepEqual((await readStoreRuntime(kv)).value, same);
  });
});

/** main.ts against `url`, stopped at the first refusal (or once it serves; then killed). */
async function startMain(url: string, extra: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", "main.ts"],
    cwd: ROOT,
    env: childEnv({
      KV_PATH: url,
      DENO_KV_ACCESS_TOKEN: ACCESS_TOKEN,
      STRIPE_SECRET_KEY: "sk_test_takeover",
      STRIPE_API_URL: "http://127.0.0.1:9",
      AUDIT_SIGNING_KEY: "takeover-signing-key-0123456789abcdef",
      LOG_FORMAT: "json",
      ...extra,
    }),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("main.ts on a newer Deno refuses a KV Connect store an older Deno serves; KV_RUNTIME_TAKEOVER=1 takes it over", async () => {
  await withKvConnect(async (server) => {
    await stampOlder(server.url);
    // a layout no version has: with the opt-in the start goes past the runtime stamp, stamps it,
    // and stops at the layout stamp, before serving
    const kv = await openRemoteKv(server.url);
    await kv.set(keys.storeLayout(), 999);
    kv.close();

    const refused = await startMain(server.url, {});
    assert.equal(refused.code, 1, refused.output);
    assert.match(refused.output, /served by Deno 2\.5\.6 .*npx --yes deno@2\.5\.6 task start/);
    assert.match(refused.output, /KV_RUNTIME_TAKEOVER=1/);
    const check = await openRemoteKv(server.url);
    try {
      assert.equal((await readStoreRuntime(check)).value?.deno, "2.5.6", "the stamp is left alone");

      const taken = await startMain(server.url, { KV_RUNTIME_TAKEOVER: "1" });
      assert.equal(taken.code, 1, taken.output);
      assert.match(taken.output, /layout 999/);
      assert.match(taken.output, /KV_RUNTIME_TAKEOVER/, "the takeover is logged");
      assert.deepEqual((await readStoreRuntime(check)).value, same);
    } finally {
      check.close();
    }
  });
});

Deno.test("the doctor on a KV Connect store an older Deno serves names the opt-in, and warns while it is set", async () => {
  await withKvConnect(async (server) => {
    await stampOlder(server.url);
    const env = { KV_PATH: server.url, DENO_KV_ACCESS_TOKEN: ACCESS_TOKEN, DEMO: "1" };
    const openKv = (p: string | undefined) => openRemoteKv(p!);
    const findings = await runDoctor({ env, openKv });
    const runtime = findings.find((f) => f.check === "kv runtime");
    assert.equal(runtime?.severity, "fail", JSON.stringify(findings));
    assert.match(runtime?.fix ?? "", /npx --yes deno@2\.5\.6 task doctor.*KV_RUNTIME_TAKEOVER=1/);
    assert.ok(!findings.some((f) => f.check === "kv runtime takeover"));

    const set = await runDoctor({ env: { ...env, KV_RUNTIME_TAKEOVER: "1" }, openKv });
    const takeover = set.find((f) => f.check === "kv runtime takeover");
    assert.equal(takeover?.severity, "warn", JSON.stringify(set));
    assert.match(takeover?.fix ?? "", /unset KV_RUNTIME_TAKEOVER/);
  });
});
