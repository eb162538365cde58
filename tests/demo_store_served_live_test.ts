/**
 * A demo store a server then served with a Stripe key is no demo store any more (README, Quick
 * start): that start marks it, says so once, and demo mode, the doctor and the CLIs' demo key
 * treat it as any other store from then on. The CLIs refuse an AUDIT_SIGNING_KEY that opens none
 * of the store's sealed second factors (README, Secrets a deployment must set), writing nothing.
 */
import assert from "node:assert/strict";
import { cliSigningKey } from "../cli/demo_store.ts";
import { runDoctor } from "../cli/doctor.ts";
import { ConfigError, parseConfig } from "../config.ts";
import { keys } from "../kv/keys.ts";
import { demoStoreKind, markDemoStore, markStoreServedLive } from "../kv/demo.ts";
import { loadOrCreateSecret } from "../kv/secrets.ts";
import { checkStoreLayout } from "../kv/layout.ts";
import { childEnv, freePort } from "./helpers/kv_connect/mod.ts";
import { spawnCollected } from "./helpers/child_process.ts";
import { admin, PROD_KEY, snapshot, startServer, withDir } from "./helpers/demo_store.ts";

const WRONG_KEY = "not-the-servers-signing-key-0123456789ab";

/** What a demo start leaves: the stamps, its mark, its generated key. */
async function demoStore(kvPath: string): Promise<string> {
  const kv = await Deno.openKv(kvPath);
  try {
    await checkStoreLayout(kv);
    await markDemoStore(kv, Date.now());
    return await loadOrCreateSecret(kv, "audit_signing_key");
  } finally {
    kv.close();
  }
}

const WAS_DEMO = /this store was the demo's; from now on demo mode refuses it/;

Deno.test("a demo store served with a Stripe key: marked at that start, said once, no demo store from then on", async () => {
  await withDir("served_live_", async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    await demoStore(kvPath);
    const live = {
      KV_PATH: kvPath,
      STRIPE_SECRET_KEY: "sk_test_served_live",
      STRIPE_API_URL: `http://127.0.0.1:${freePort()}`,
      AUDIT_SIGNING_KEY: PROD_KEY,
      LOG_FORMAT: "json",
    };
    for (const round of [1, 2]) {
      const server = startServer({ ...live, PORT: String(freePort()) });
      await server.waitFor(/"msg":"listening"/, "the live server");
      server.child.kill("SIGTERM");
      assert.equal(await server.exited(), 0, server.output());
      // said at the start that marked it, never again
      if (round === 1) assert.match(server.output(), WAS_DEMO);
      else assert.doesNotMatch(server.output(), WAS_DEMO);
    }
    const kv = await Deno.openKv(kvPath);
    try {
      assert.equal(await demoStoreKind(kv), "other");
      assert.equal(
        typeof (await kv.get<{ at: number }>(keys.storeServedLive())).value?.at,
        "number",
      );
    } finally {
      kv.close();
    }
    const before = await snapshot(kvPath);
    const demo = startServer({
      KV_PATH: kvPath,
      PORT: String(freePort()),
      STRIPE_EMULATOR_PORT: String(freePort()),
      LOG_FORMAT: "json",
    });
    assert.equal(await demo.exited(), 1, demo.output());
    assert.match(demo.output(), /demo mode \(no STRIPE_SECRET_KEY\) will not run on the store at/);
    assert.deepEqual(await snapshot(kvPath), before);
    const doctor = await runDoctor({ env: { KV_PATH: kvPath } });
    assert.equal(doctor.find((f) => f.check === "demo store")?.severity, "fail");
  });
});

Deno.test("a store served live keeps none of its demo key: the CLI without AUDIT_SIGNING_KEY is refused", async () => {
  await withDir("served_live_", async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    await demoStore(kvPath);
    const kv = await Deno.openKv(kvPath);
    try {
      assert.equal(await markStoreServedLive(kv, Date.now()), true, "it was a demo store");
      assert.equal(await markStoreServedLive(kv, Date.now()), false, "marked once");
      assert.equal(await demoStoreKind(kv), "other");
      const config = parseConfig({ KV_PATH: kvPath });
      await assert.rejects(
        () => cliSigningKey(kv, config, "the admin CLI"),
        (e) => e instanceof ConfigError && /AUDIT_SIGNING_KEY is not set/.test(e.message),
      );
    } finally {
      kv.close();
    }
    const before = await snapshot(kvPath);
    const r = await admin(
      { KV_PATH: kvPath },
      ...["create", "--email", "a@example.com", "--role", "admin"],
    );
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /AUDIT_SIGNING_KEY is not set/);
    assert.doesNotMatch(r.stderr, /for the demo, start/, "demo mode refuses this store");
    assert.deepEqual(await snapshot(kvPath), before);
  });
});

Deno.test("the CLI's hint to start the demo first: on a new store only, never on another's", async () => {
  await withDir("served_live_", async (dir) => {
    const fresh = await admin(
      { KV_PATH: `${dir}/new/kv.sqlite3` },
      ...["create", "--email", "a@example.com", "--role", "admin"],
    );
    assert.equal(fresh.code, 1);
    assert.match(fresh.stderr, /for the demo, start `deno task start` on this store first/);

    const kvPath = `${dir}/kv.sqlite3`;
    const made = await admin(
      { KV_PATH: kvPath, AUDIT_SIGNING_KEY: PROD_KEY, STRIPE_SECRET_KEY: "sk_test_prod" },
      ...["create", "--email", "ops@example.com", "--role", "admin"],
    );
    assert.equal(made.code, 0, made.stderr);
    const other = await admin(
      { KV_PATH: kvPath },
      ...["create", "--email", "b@example.com", "--role", "admin"],
    );
    assert.equal(other.code, 1);
    assert.match(other.stderr, /AUDIT_SIGNING_KEY is not set, and the store at .* holds data/);
    assert.doesNotMatch(other.stderr, /for the demo, start/);
  });
});

const WRONG =
  /AUDIT_SIGNING_KEY opens none of the sealed TOTP secrets in the store at .*: it is not the key the server runs with; nothing was written\. Set AUDIT_SIGNING_KEY to the key the server runs with/;

Deno.test("the admin CLI with an AUDIT_SIGNING_KEY that opens none of the store's second factors: refused, nothing written", async () => {
  await withDir("served_live_", async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    const first = await admin(
      { KV_PATH: kvPath, AUDIT_SIGNING_KEY: PROD_KEY, STRIPE_SECRET_KEY: "sk_test_prod" },
      ...["create", "--email", "ops@example.com", "--role", "admin", "--json"],
    );
    assert.equal(first.code, 0, first.stderr);
    const id = JSON.parse(first.stdout).id;
    const before = await snapshot(kvPath);
    const wrong = { KV_PATH: kvPath, AUDIT_SIGNING_KEY: WRONG_KEY, STRIPE_SECRET_KEY: "sk_test_x" };
    for (
      const args of [
        ["create", "--email", "second@example.com", "--role", "admin"],
        ["reset-2fa", "--id", id],
        ["disable", "--id", id],
        ["rotate-token", "--id", id],
      ]
    ) {
      const r = await admin(wrong, ...args);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`);
      assert.equal(r.stdout, "", "no credentials printed");
      assert.match(r.stderr, WRONG);
    }
    assert.deepEqual(await snapshot(kvPath), before);
    // listing seals nothing
    assert.equal((await admin(wrong, "list")).code, 0);
    // a rotation that keeps the server's key listed opens them
    const rotated = await admin(
      { ...wrong, AUDIT_SIGNING_KEY: `${WRONG_KEY},${PROD_KEY}` },
      ...["create", "--email", "third@example.com", "--role", "operator"],
    );
    assert.equal(rotated.code, 0, rotated.stderr);
  });
});

Deno.test("backfill with an AUDIT_SIGNING_KEY that opens none of the store's second factors: exit 1, nothing written", async () => {
  await withDir("served_live_", async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    const first = await admin(
      { KV_PATH: kvPath, AUDIT_SIGNING_KEY: PROD_KEY, STRIPE_SECRET_KEY: "sk_test_prod" },
      ...["create", "--email", "ops@example.com", "--role", "admin"],
    );
    assert.equal(first.code, 0, first.stderr);
    const before = await snapshot(kvPath);
    const child = spawnCollected(
      Deno.execPath(),
      ["run", "-A", "--quiet", "cli/backfill.ts", "--since", "1d"],
      childEnv({
        KV_PATH: kvPath,
        AUDIT_SIGNING_KEY: WRONG_KEY,
        STRIPE_SECRET_KEY: "sk_test_x",
        STRIPE_API_URL: "http://127.0.0.1:9",
      }),
    );
    assert.equal(await child.exited(), 1, child.output());
    assert.match(child.output(), WRONG);
    assert.deepEqual(await snapshot(kvPath), before);
  });
});
