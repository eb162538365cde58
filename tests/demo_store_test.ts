/**
 * Demo mode's store (README, Quick start; Secrets a deployment must set): run without
 * AUDIT_SIGNING_KEY and STRIPE_SECRET_KEY, the admin CLI and the backfill use the signing key
 * demo mode generated only on a demo store, and refuse any other store (a deployment's) before
 * writing anything; the server in demo mode refuses a store holding data demo mode did not
 * make, DEMO=1 or not. A store an
 * earlier version's demo made keeps working.
 */
import assert from "node:assert/strict";
import { keys } from "../kv/keys.ts";
import { claimDemoSeeding } from "../kv/demo.ts";
import { loadOrCreateSecret } from "../kv/secrets.ts";
import { checkStoreLayout } from "../kv/layout.ts";
import { IdentityKeys } from "../services/identity/crypto.ts";
import type { SecondFactorRecord } from "../kv/identity_factors.ts";
import { runDoctor } from "../cli/doctor.ts";
import { childEnv, freePort } from "./helpers/kv_connect/mod.ts";
import { spawnCollected } from "./helpers/child_process.ts";
import { admin, PROD_KEY, snapshot, startServer, withDir } from "./helpers/demo_store.ts";

/** A deployment's store: its first admin made with the CLI, run with the deployment's keys. */
async function productionStore(kvPath: string): Promise<string> {
  const made = await admin(
    { KV_PATH: kvPath, AUDIT_SIGNING_KEY: PROD_KEY, STRIPE_SECRET_KEY: "sk_test_prod" },
    ...["create", "--email", "ops@example.com", "--role", "admin", "--json"],
  );
  assert.equal(made.code, 0, made.stderr);
  return JSON.parse(made.stdout).id;
}

Deno.test("admin create and reset-2fa without AUDIT_SIGNING_KEY on a deployment's store: refused naming it, nothing written", async () => {
  await withDir("demo_store_", async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    const id = await productionStore(kvPath);
    const before = await snapshot(kvPath);
    for (
      const args of [
        ["create", "--email", "second@example.com", "--role", "admin", "--json"],
        ["reset-2fa", "--id", id],
      ]
    ) {
      const r = await admin({ KV_PATH: kvPath }, ...args);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stdout, "", "no credentials printed");
      assert.match(r.stderr, /AUDIT_SIGNING_KEY is not set, and the store at .* holds data demo/);
      assert.match(r.stderr, /nothing was written\. Set AUDIT_SIGNING_KEY to the key the server/);
    }
    assert.deepEqual(await snapshot(kvPath), before);
    assert.ok(!before.some((k) => k.startsWith('["secrets"')), "no key kept in the store");
  });
});

Deno.test("admin create without AUDIT_SIGNING_KEY where no store is yet: refused, nothing made", async () => {
  await withDir("demo_store_", async (dir) => {
    const r = await admin(
      { KV_PATH: `${dir}/new/kv.sqlite3` },
      ...["create", "--email", "a@example.com", "--role", "admin"],
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /AUDIT_SIGNING_KEY is not set, and the store at .* does not exist yet/);
    await assert.rejects(() => Deno.stat(`${dir}/new`), Deno.errors.NotFound);
  });
});

Deno.test("a demo store an earlier version made: the admin CLI seals with the key kept there, as before", async () => {
  await withDir("demo_store_", async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    // what an earlier demo start left: the layout stamp, the generated key, the seeding's mark
    const kv = await Deno.openKv(kvPath);
    await checkStoreLayout(kv);
    const generated = await loadOrCreateSecret(kv, "audit_signing_key");
    assert.ok(await claimDemoSeeding(kv, Date.now()));
    kv.close();
    const r = await admin(
      { KV_PATH: kvPath },
      ...["create", "--email", "second@example.com", "--role", "operator", "--json"],
    );
    assert.equal(r.code, 0, r.stderr);
    const made = JSON.parse(r.stdout);
    const check = await Deno.openKv(kvPath);
    try {
      const factor = await check.get<SecondFactorRecord>(keys.adminSecondFactor(made.id));
      const opened = await new IdentityKeys(generated).unseal(
        factor.value!.sealed_totp_secret,
        made.id,
      );
      assert.equal(opened, made.totp_secret);
      assert.equal((await check.get(keys.secret("audit_signing_key"))).value, generated);
    } finally {
      check.close();
    }
  });
});

Deno.test("backfill without AUDIT_SIGNING_KEY on a deployment's store: exit 1 naming it, nothing written", async () => {
  await withDir("demo_store_", async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    await productionStore(kvPath);
    const before = await snapshot(kvPath);
    const child = spawnCollected(
      Deno.execPath(),
      ["run", "-A", "--quiet", "cli/backfill.ts", "--since", "1d"],
      childEnv({ KV_PATH: kvPath, STRIPE_API_URL: "http://127.0.0.1:9" }),
    );
    assert.equal(await child.exited(), 1, child.output());
    assert.match(child.output(), /AUDIT_SIGNING_KEY is not set, and the store at .* holds data/);
    assert.deepEqual(await snapshot(kvPath), before);
  });
});

Deno.test("demo mode on a deployment's store: refused, nothing written, DEMO=1 or not", async () => {
  await withDir("demo_store_", async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    await productionStore(kvPath);
    const before = await snapshot(kvPath);
    const base = {
      KV_PATH: kvPath,
      PORT: String(freePort()),
      STRIPE_EMULATOR_PORT: String(freePort()),
      LOG_FORMAT: "json",
    };

    const plain = startServer(base);
    assert.equal(await plain.exited(), 1, plain.output());
    assert.match(plain.output(), /demo mode \(no STRIPE_SECRET_KEY\) will not run on the store at/);
    assert.match(plain.output(), /nothing was written\. To serve this store, start with its/);
    // the store in use is named, not the default's ./data
    assert.ok(plain.output().includes(`or move ${kvPath} away)`), plain.output());
    assert.doesNotMatch(plain.output(), /\.\/data/);
    assert.doesNotMatch(plain.output(), /seeding|emulator started/);
    assert.deepEqual(await snapshot(kvPath), before);

    // DEMO=1 asks for demo mode, not for this store: refused too, with or without its key
    for (const extra of [{}, { AUDIT_SIGNING_KEY: PROD_KEY }] as Record<string, string>[]) {
      const asked = startServer({ ...base, DEMO: "1", ...extra });
      assert.equal(await asked.exited(), 1, asked.output());
      assert.match(asked.output(), /demo mode \(DEMO=1\) will not run on the store at/);
      assert.match(asked.output(), /nothing was written/);
      assert.doesNotMatch(asked.output(), /seeding|emulator started|"msg":"listening"/);
      assert.deepEqual(await snapshot(kvPath), before);
    }

    // the doctor says what the start says
    const doctor = await runDoctor({ env: { KV_PATH: kvPath } });
    const demoStore = doctor.find((f) => f.check === "demo store");
    assert.equal(demoStore?.severity, "fail", JSON.stringify(doctor));
    assert.match(demoStore.detail, /will not run on the store at/);
    assert.ok(demoStore.fix?.includes(`or move ${kvPath} away)`), demoStore.fix);
  });
});
