/**
 * Restricted keys: the emulator answers a missing permission as Stripe does
 * (403, `invalid_request_error`, the `rak_…` permission named), and the doctor
 * lists exactly the permissions the service uses that a key lacks, with the
 * Dashboard settings that grant them, and passes a key that holds them all.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator } from "./helpers/emulator.ts";
import { runDoctor } from "../cli/doctor.ts";
import { REQUIRED_PERMISSIONS } from "../cli/doctor_permissions.ts";
import type { Emulator } from "../emulator/mod.ts";

const SECRET = "whsec_" + "R1k2C3d4".repeat(4);
const FULL = "rk_test_payops_full_0123456789abcdef";
const NONE = "rk_test_payops_none_0123456789abcdef";
const ALL = REQUIRED_PERMISSIONS.map((p) => p.name);

function sdk(emu: Emulator, key: string): Stripe {
  return new Stripe(key, {
    host: "127.0.0.1",
    port: emu.port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(emu.fetch),
    maxNetworkRetries: 0,
  });
}

Deno.test("emulator: a restricted key without a permission gets Stripe's 403 naming it", async () => {
  const keys = { "rk_test_refund_reader_abcdef": ["refund_read", "charge_write"] };
  await withEmulator(async ({ emu }) => {
    const s = sdk(emu, "rk_test_refund_reader_abcdef");
    const err = await s.refunds.create({ payment_intent: "pi_x" }).then(
      () => assert.fail("a refund without refund_write"),
      (e) => e,
    );
    assert.ok(err instanceof Stripe.errors.StripePermissionError);
    assert.equal(err.statusCode, 403);
    assert.equal(err.rawType, "invalid_request_error");
    assert.match(
      err.message,
      /^The provided key 'rk_test_\*+abcdef' does not have the required permissions for this endpoint on account 'acct_\w+'\. Having the 'rak_refund_write' permission would allow this request to continue\.$/,
    );
    assert.deepEqual((await s.refunds.list({ limit: 1 })).data, [], "read is granted");
    await s.charges.list({ limit: 1 }); // write includes read
    await assert.rejects(s.disputes.list({ limit: 1 }), /rak_dispute_read/);
    await assert.rejects(s.webhookEndpoints.list(), /rak_webhook_read/);
    // A key the emulator was not told about, and a secret key, may do everything.
    await sdk(emu, "rk_test_unlisted").disputes.list({ limit: 1 });
    await sdk(emu, "sk_test_anything").disputes.list({ limit: 1 });
  }, { restrictedKeys: keys });
});

/** Every call the service makes at Stripe, with ids that do not exist. */
const SERVICE_CALLS: [string, (s: Stripe) => Promise<unknown>][] = [
  ["paymentIntents.retrieve", (s) => s.paymentIntents.retrieve("pi_none")],
  ["paymentIntents.confirm", (s) => s.paymentIntents.confirm("pi_none")],
  ["paymentIntents.capture", (s) => s.paymentIntents.capture("pi_none")],
  ["paymentIntents.cancel", (s) => s.paymentIntents.cancel("pi_none")],
  ["paymentIntents.list", (s) => s.paymentIntents.list({ limit: 1 })],
  ["charges.list", (s) => s.charges.list({ limit: 1 })],
  ["refunds.create", (s) => s.refunds.create({ payment_intent: "pi_none" })],
  ["refunds.list", (s) => s.refunds.list({ limit: 1 })],
  ["disputes.retrieve", (s) => s.disputes.retrieve("dp_none")],
  ["disputes.list", (s) => s.disputes.list({ limit: 1 })],
  ["disputes.update", (s) => s.disputes.update("dp_none", { metadata: { a: "b" } })],
  ["disputes.close", (s) => s.disputes.close("dp_none")],
  ["files.create", (s) =>
    s.files.create({
      purpose: "dispute_evidence",
      file: { data: new TextEncoder().encode("receipt"), name: "r.txt", type: "text/plain" },
    })],
  ["customers.list", (s) => s.customers.list({ limit: 1 })],
  ["customers.listPaymentMethods", (s) => s.customers.listPaymentMethods("cus_none")],
  ["paymentMethods.retrieve", (s) => s.paymentMethods.retrieve("pm_none")],
  ["paymentMethods.attach", (s) => s.paymentMethods.attach("pm_none", { customer: "cus_none" })],
  ["webhookEndpoints.list", (s) => s.webhookEndpoints.list({ limit: 1 })],
  ["radar.earlyFraudWarnings.list", (s) => s.radar.earlyFraudWarnings.list({ limit: 1 })],
  ["reviews.list", (s) => s.reviews.list({ limit: 1 })],
];

async function status(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (e) {
    assert.ok(e instanceof Stripe.errors.StripeError, String(e));
    return e.statusCode!;
  }
}

Deno.test("the doctor's permission list covers every call the service makes at Stripe", async () => {
  await withEmulator(async ({ emu }) => {
    for (const [name, call] of SERVICE_CALLS) {
      assert.notEqual(await status(() => call(sdk(emu, FULL))), 403, `${name} with the full set`);
      assert.equal(await status(() => call(sdk(emu, NONE))), 403, `${name} with no permission`);
    }
  }, { restrictedKeys: { [FULL]: ALL, [NONE]: [] } });
});

function envFor(emu: Emulator, key: string) {
  return {
    KV_PATH: ":memory:",
    STRIPE_SECRET_KEY: key,
    STRIPE_API_URL: emu.url,
    STRIPE_WEBHOOK_SECRETS: SECRET,
    AUDIT_SIGNING_KEY: "doctor-signing-key-0123456789abcdef0123",
  };
}

async function doctor(emu: Emulator, key: string) {
  const findings = await runDoctor({ env: envFor(emu, key), fetch: emu.fetch });
  return {
    findings,
    failed: findings.filter((f) => f.severity === "fail"),
    restricted: findings.filter((f) => f.check === "restricted key"),
  };
}

Deno.test("doctor passes a restricted key that holds every permission the service uses", async () => {
  await withEmulator(async ({ emu }) => {
    emu.setWebhook({ url: "https://payops.example/api/webhooks/stripe", secret: SECRET });
    const { failed, restricted, findings } = await doctor(emu, FULL);
    assert.deepEqual(failed, []);
    assert.deepEqual(restricted.map((f) => f.severity), ["ok"]);
    assert.match(restricted[0].detail, new RegExp(`\\(${ALL.length} checked\\)`));
    const key = findings.find((f) => f.check === "stripe key");
    assert.match(key!.detail, /restricted test-mode key Stripe accepts \(no Balance read\)/);
  }, { restrictedKeys: { [FULL]: ALL } });
});

Deno.test("doctor lists exactly the missing permissions of a restricted key, with the fix", async () => {
  const partial = "rk_test_payops_partial_0123456789";
  // Reads where the service writes, and three permissions left out entirely.
  const granted = [
    "customer_read",
    "payment_intent_write",
    "payment_method_write",
    "refund_read",
    "dispute_read",
    "review_read",
    "balance_read",
  ];
  await withEmulator(async ({ emu }) => {
    emu.setWebhook({ url: "https://payops.example/api/webhooks/stripe", secret: SECRET });
    const { restricted, failed } = await doctor(emu, partial);
    assert.equal(restricted.length, 1);
    const [f] = restricted;
    assert.equal(f.severity, "fail");
    const named = [...f.detail.matchAll(/rak_(\w+)/g)].map((m) => m[1]);
    assert.deepEqual(named, [
      "charge_read",
      "refund_write",
      "dispute_write",
      "file_write",
      "radar_early_fraud_warning_read",
      "webhook_read",
    ]);
    assert.equal(
      f.fix,
      "in the Dashboard (Developers, API keys, the key's Edit) set Charges: Read, " +
        "Refunds: Write, Disputes: Write, Files: Write, Early Fraud Warnings: Read, " +
        "Webhook Endpoints: Read; " +
        "then run the doctor again",
    );
    // With Balance read the key's mode is confirmed as usual.
    assert.ok(!failed.some((x) => x.check === "stripe key"));
    assert.ok(failed.some((x) => x.check === "webhook endpoint" && /403/.test(x.detail)));
  }, { restrictedKeys: { [partial]: granted } });
});

Deno.test("doctor names each required permission alone when it is the one missing", async () => {
  const keys = Object.fromEntries(
    ALL.map((name) => [`rk_test_without_${name}_01234`, ALL.filter((n) => n !== name)]),
  );
  await withEmulator(async ({ emu }) => {
    for (const name of ALL) {
      const { restricted } = await doctor(emu, `rk_test_without_${name}_01234`);
      assert.equal(restricted.length, 1, name);
      assert.equal(restricted[0].severity, "fail", name);
      assert.deepEqual([...restricted[0].detail.matchAll(/rak_(\w+)/g)].map((m) => m[1]), [name]);
    }
  }, { restrictedKeys: keys });
});
