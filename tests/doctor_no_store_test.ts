/**
 * `deno task doctor --no-store` checks what needs no access to the deployment's KV (config,
 * Stripe key and permissions, webhook endpoint, secrets) and names what it skipped and where to
 * see it; the first admin's variables get a finding of their own (README, Doctor). Against the
 * emulator as Stripe and a real KV.
 */
import assert from "node:assert/strict";
import { withEmulator } from "./helpers/emulator.ts";
import { runDoctor } from "../cli/doctor.ts";
import type { Finding } from "../cli/doctor_checks.ts";
import type { Emulator } from "../emulator/mod.ts";
import { createTestApp } from "./helpers/app.ts";
import { createAdmin } from "./helpers/identity.ts";
import { parseConfig } from "../config.ts";

const SECRET = "whsec_" + "A1b2C3d4".repeat(4);
const CODE = "Zx9+Qk2/Lm4Rt7Wn1Bc8Md3Hs6Fj0Ga5Pe2Yu7Io4=";

function envFor(emu: Emulator, kvPath: string, extra: Record<string, string> = {}) {
  return {
    KV_PATH: kvPath,
    STRIPE_SECRET_KEY: "sk_test_doctor",
    STRIPE_API_URL: emu.url,
    STRIPE_WEBHOOK_SECRETS: SECRET,
    AUDIT_SIGNING_KEY: "doctor-signing-key-0123456789abcdef0123",
    ...extra,
  };
}

const find = (findings: Finding[], check: string) => findings.find((f) => f.check === check);

Deno.test("--no-store opens no store, checks config, Stripe and the endpoint, and names what it skipped", async () => {
  await withEmulator(async ({ emu }) => {
    emu.setWebhook({ url: "https://payops.example/api/webhooks/stripe", secret: SECRET });
    // a KV Connect URL with no access token: without --no-store that alone fails the doctor
    const env = envFor(emu, "https://api.deno.com/databases/0000/connect");
    const refuseOpen = () => Promise.reject(new Error("--no-store must not open the store"));
    const findings = await runDoctor({ env, fetch: emu.fetch, openKv: refuseOpen, noStore: true });
    assert.deepEqual(findings.filter((f) => f.severity === "fail"), []);
    for (const c of ["configuration", "stripe key", "webhook events", "webhook api_version"]) {
      assert.ok(find(findings, c), `${c} is checked: ${findings.map((f) => f.check)}`);
    }
    assert.equal(find(findings, "signing key")?.severity, "ok");
    assert.equal(find(findings, "webhook secret")?.severity, "ok");
    const kv = find(findings, "kv")!;
    assert.equal(kv.severity, "warn");
    assert.match(kv.detail, /not opened \(--no-store\)/);
    assert.match(kv.detail, /crons' last runs/);
    assert.match(kv.fix ?? "", /GET \/readyz/);
    assert.match(kv.fix ?? "", /payops_cron_last_run_timestamp_seconds/);
    assert.equal(find(findings, "kv layout"), undefined);
    assert.equal(find(findings, "cron runs"), undefined);
    // without --no-store the same environment fails on the store
    const full = await runDoctor({ env, fetch: emu.fetch, openKv: refuseOpen });
    assert.equal(find(full, "kv")?.severity, "fail");
  });
});

Deno.test("--no-store still fails a cut-off webhook secret and a short first admin's code", async () => {
  await withEmulator(async ({ emu }) => {
    const findings = await runDoctor({
      env: envFor(emu, "./nowhere/kv.sqlite3", { STRIPE_WEBHOOK_SECRETS: "whsec_short" }),
      fetch: emu.fetch,
      noStore: true,
    });
    // The start judges the secrets (Configuration), so the doctor's configuration check fails it.
    const config = find(findings, "configuration");
    assert.equal(config?.severity, "fail");
    assert.match(config!.detail, /STRIPE_WEBHOOK_SECRETS/);
    assert.match(config!.detail, /cut off/);
    assert.ok(!config!.detail.includes("whsec_short"));
    await assert.rejects(Deno.stat("./nowhere"), Deno.errors.NotFound);
    const short = await runDoctor({
      env: envFor(emu, ":memory:", {
        FIRST_ADMIN_EMAIL: "founder@example.com",
        FIRST_ADMIN_ENROLLMENT_CODE: "too-short",
      }),
      noStore: true,
    });
    assert.equal(short.length, 1);
    assert.equal(short[0].severity, "fail");
    assert.match(short[0].detail, /FIRST_ADMIN_ENROLLMENT_CODE: must be at least 32/);
    assert.ok(!short[0].detail.includes("too-short"));
  });
});

Deno.test("the doctor on the first admin's variables: the next start's work, waiting, then remove them", async () => {
  await withEmulator(async ({ emu }) => {
    emu.setWebhook({ url: "https://payops.example/api/webhooks/stripe", secret: SECRET });
    const t = await createTestApp({ file: true });
    try {
      const env = envFor(emu, t.kvPath!, {
        FIRST_ADMIN_EMAIL: "founder@example.com",
        FIRST_ADMIN_ENROLLMENT_CODE: CODE,
      });
      const now = t.clock.now();
      const run = async (noStore = false) =>
        find(await runDoctor({ env, fetch: emu.fetch, now, noStore }), "first admin")!;
      const empty = await run();
      assert.equal(empty.severity, "ok");
      assert.match(empty.detail, /next start makes founder@example\.com admin/);
      await t.services.identity.startFirstAdmin(parseConfig(env).firstAdmin!);
      const waiting = await run();
      assert.equal(waiting.severity, "ok");
      assert.match(waiting.detail, /waits for enrollment until/);
      const blind = await run(true);
      assert.equal(blind.severity, "warn");
      assert.match(blind.detail, /store was not read/);
      await createAdmin(t, "viewer");
      const unused = await run();
      assert.equal(unused.severity, "warn");
      assert.match(unused.detail, /no longer used/);
      assert.match(unused.fix ?? "", /remove FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE/);
      for (const f of [empty, waiting, blind, unused]) {
        assert.ok(!JSON.stringify(f).includes(CODE), "the code is never shown");
      }
    } finally {
      await t.close();
    }
  });
});
