/** `deno task doctor` finds what is wrong, against the emulator as Stripe and a real KV. */
import assert from "node:assert/strict";
import { withEmulator } from "./helpers/emulator.ts";
import { ACCESS_TOKEN, useTestAccessToken } from "./helpers/kv_connect/mod.ts";
import { runDoctor } from "../cli/doctor.ts";
import type { Finding } from "../cli/doctor_checks.ts";
import { HANDLED_EVENT_TYPES } from "../domain/stripe_events.ts";
import { addNewEvent, encodePayload } from "../kv/webhook_events.ts";
import type { WebhookEventRecord } from "../domain/webhook_event.ts";
import type { Emulator } from "../emulator/mod.ts";
import { IdentityKeys } from "../services/identity/crypto.ts";
import { keys } from "../kv/keys.ts";
import { STORE_LAYOUT } from "../kv/layout.ts";

const SECRET = "whsec_" + "A1b2C3d4".repeat(4);
const SIGNING_KEY = "doctor-signing-key-0123456789abcdef0123";

function failures(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity === "fail");
}

async function withStore(fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "doctor_test_" });
  try {
    await fn(`${dir}/kv.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function envFor(emu: Emulator, kvPath: string, extra: Record<string, string> = {}) {
  return {
    KV_PATH: kvPath,
    STRIPE_SECRET_KEY: "sk_test_doctor",
    STRIPE_API_URL: emu.url,
    STRIPE_WEBHOOK_SECRETS: SECRET,
    AUDIT_SIGNING_KEY: SIGNING_KEY,
    ...extra,
  };
}

function pointWebhooks(emu: Emulator, extra: { enabled_events?: string[]; api_version?: string }) {
  emu.setWebhook({ url: "https://payops.example/api/webhooks/stripe", secret: SECRET, ...extra });
}

Deno.test("doctor passes a sound setup: key, store, endpoint, events, api_version", async () => {
  await withEmulator(async ({ emu }) => {
    pointWebhooks(emu, {});
    await withStore(async (path) => {
      const findings = await runDoctor({ env: envFor(emu, path), fetch: emu.fetch });
      assert.deepEqual(failures(findings), []);
      const checks = findings.map((f) => f.check);
      for (
        const c of ["stripe key", "kv", "webhook events", "webhook api_version", "signing key"]
      ) {
        assert.ok(checks.includes(c), `${c} is checked: ${checks.join(", ")}`);
      }
      // /metrics does not tell a caller whether METRICS_TOKEN is set; the doctor does
      const metrics = findings.find((f) => f.check === "metrics");
      assert.match(metrics?.detail ?? "", /METRICS_TOKEN is not set: only an admin's API token/);
      const withToken = await runDoctor({
        env: { ...envFor(emu, path), METRICS_TOKEN: "scrape-token-0123456789" },
        fetch: emu.fetch,
      });
      assert.match(
        withToken.find((f) => f.check === "metrics")?.detail ?? "",
        /METRICS_TOKEN is set/,
      );
    });
  });
});

Deno.test("doctor finds a live key on a store of test-mode events, with the fix", async () => {
  await withEmulator(async ({ emu }) => {
    pointWebhooks(emu, {});
    await withStore(async (path) => {
      const kv = await Deno.openKv(path);
      const record = {
        id: "evt_test_1",
        log_id: "whe_01",
        type: "payment_intent.succeeded",
        created: 1,
        livemode: false,
        received_at: 1,
        status: "processed",
      } as unknown as WebhookEventRecord;
      const op = kv.atomic();
      addNewEvent(op, record, encodePayload("{}"));
      assert.ok((await op.commit()).ok);
      kv.close();
      const env = envFor(emu, path, { STRIPE_SECRET_KEY: "sk_live_doctor" });
      const bad = failures(await runDoctor({ env, fetch: emu.fetch }));
      const mode = bad.find((f) => f.check === "key mode");
      assert.ok(mode, JSON.stringify(bad));
      assert.match(mode.detail, /live-mode key but this store holds test-mode events/);
      assert.match(mode.fix ?? "", /use the test-mode key/);
      assert.ok(bad.some((f) => f.check === "stripe key" && /refused/.test(f.detail)));
    });
  });
});

Deno.test("doctor finds a cut-off webhook secret, and one that is no secret at all", async () => {
  await withEmulator(async ({ emu }) => {
    pointWebhooks(emu, {});
    await withStore(async (path) => {
      const cut = failures(
        await runDoctor({
          env: envFor(emu, path, { STRIPE_WEBHOOK_SECRETS: `${SECRET},whsec_abc` }),
          fetch: emu.fetch,
        }),
      );
      // refused as the start refuses it (tests/config_webhook_secrets_test.ts)
      assert.equal(cut.length, 1, JSON.stringify(cut));
      assert.equal(cut[0].check, "configuration");
      assert.match(cut[0].detail, /entry 2 of 2 looks cut off/);
      const wrong = failures(
        await runDoctor({ env: envFor(emu, path, { STRIPE_WEBHOOK_SECRETS: "sk_test_x" }) }),
      );
      assert.equal(wrong[0].check, "configuration");
      assert.match(wrong[0].detail, /entry 1 of 1 does not start with whsec_/);
    });
  });
});

Deno.test({
  name: "doctor finds an unreachable KV (KV Connect URL, no server) and a missing token",
  // Deno 2.5 opens a KV Connect store lazily; the reads the doctor gave up on keep retrying
  // after close(), which the op sanitizer would count as a leak of this test.
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await withEmulator(async ({ emu }) => {
    pointWebhooks(emu, {});
    // Deno opens the store with the token of the process environment (shared by the
    // suite's parallel workers: see useTestAccessToken).
    useTestAccessToken();
    const env = envFor(emu, "http://127.0.0.1:9", { DENO_KV_ACCESS_TOKEN: ACCESS_TOKEN });
    const bad = failures(await runDoctor({ env, fetch: emu.fetch, timeoutMs: 3000 }));
    const kv = bad.find((f) => f.check === "kv");
    assert.ok(kv, JSON.stringify(bad));
    assert.match(kv.detail, /nothing answers at http:\/\/127\.0\.0\.1:9/);
    assert.match(kv.fix ?? "", /start the denokv server/);
    const noToken = failures(
      await runDoctor({ env: envFor(emu, "https://kv.example") }),
    );
    assert.match(noToken[0].detail, /DENO_KV_ACCESS_TOKEN is not set/);
  });
});

Deno.test("doctor finds an endpoint that misses events or speaks another api_version", async () => {
  await withEmulator(async ({ emu }) => {
    pointWebhooks(emu, { enabled_events: ["charge.succeeded"], api_version: "2024-06-20" });
    await withStore(async (path) => {
      const bad = failures(await runDoctor({ env: envFor(emu, path), fetch: emu.fetch }));
      const events = bad.find((f) => f.check === "webhook events");
      assert.ok(events);
      assert.match(events.detail, new RegExp(`${HANDLED_EVENT_TYPES.length - 1} event type`));
      const version = bad.find((f) => f.check === "webhook api_version");
      assert.ok(version);
      assert.match(version.detail, /2024-06-20/);
      emu.setWebhook(null);
      const none = failures(await runDoctor({ env: envFor(emu, path), fetch: emu.fetch }));
      assert.match(none.find((f) => f.check === "webhook endpoint")?.detail ?? "", /no endpoint/);
    });
  });
});

Deno.test("doctor creates no store at a KV_PATH that does not exist, and says so", async () => {
  await withEmulator(async ({ emu }) => {
    pointWebhooks(emu, {});
    await withStore(async (path) => {
      const findings = await runDoctor({ env: envFor(emu, path), fetch: emu.fetch });
      const kv = findings.find((f) => f.check === "kv")!;
      assert.equal(kv.severity, "warn");
      assert.match(kv.detail, /no store at .*kv\.sqlite3 \(the file does not exist\)/);
      assert.match(kv.fix ?? "", /correct KV_PATH/);
      await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    });
  });
});

Deno.test("doctor fails a signing key that cannot open the stored TOTP secrets (a rotation that dropped the old key)", async () => {
  await withEmulator(async ({ emu }) => {
    pointWebhooks(emu, {});
    await withStore(async (path) => {
      const kv = await Deno.openKv(path);
      const sealed = await new IdentityKeys(SIGNING_KEY).seal("JBSWY3DPEHPK3PXP", "adm_1");
      await kv.set(keys.adminSecondFactor("adm_1"), {
        admin_id: "adm_1",
        sealed_totp_secret: sealed,
      });
      await kv.set(keys.storeLayout(), STORE_LAYOUT);
      kv.close();
      const good = await runDoctor({ env: envFor(emu, path), fetch: emu.fetch });
      assert.equal(good.find((f) => f.check === "signing key opens")?.severity, "ok");
      const rotated = envFor(emu, path, {
        AUDIT_SIGNING_KEY: "another-key-0123456789abcdef0123456",
      });
      const bad = failures(await runDoctor({ env: rotated, fetch: emu.fetch }));
      const opens = bad.find((f) => f.check === "signing key opens");
      assert.ok(opens, JSON.stringify(bad));
      assert.match(opens.detail, /1 of 1 sealed TOTP secrets open with none of the/);
      assert.match(opens.fix ?? "", /put the key they were sealed with back/);
      // with the old key kept after the new one, it opens again
      const kept = envFor(emu, path, {
        AUDIT_SIGNING_KEY: `another-key-0123456789abcdef0123456,${SIGNING_KEY}`,
      });
      assert.deepEqual(failures(await runDoctor({ env: kept, fetch: emu.fetch })), []);
    });
  });
});

Deno.test("doctor does not say AUDIT_SIGNING_KEY opens the sealed secrets when it is not set (a demo store given a Stripe key)", async () => {
  await withEmulator(async ({ emu }) => {
    pointWebhooks(emu, {});
    await withStore(async (path) => {
      const kv = await Deno.openKv(path);
      const demoKey = "generated-demo-key-0123456789abcdef0123";
      await kv.set(keys.secret("audit_signing_key"), demoKey);
      const sealed = await new IdentityKeys(demoKey).seal("JBSWY3DPEHPK3PXP", "adm_1");
      await kv.set(keys.adminSecondFactor("adm_1"), {
        admin_id: "adm_1",
        sealed_totp_secret: sealed,
      });
      await kv.set(keys.storeLayout(), STORE_LAYOUT);
      kv.close();
      const env: Record<string, string> = envFor(emu, path);
      delete env.AUDIT_SIGNING_KEY;
      const findings = await runDoctor({ env, fetch: emu.fetch });
      assert.equal(findings.find((f) => f.check === "signing key")?.severity, "fail");
      const opens = findings.find((f) => f.check === "signing key opens");
      assert.notEqual(opens?.severity, "ok", JSON.stringify(opens));
      // in demo mode the key kept in KV is the one in use, and it is named so
      const demo = await runDoctor({ env: { KV_PATH: path } });
      const demoOpens = demo.find((f) => f.check === "signing key opens");
      assert.equal(demoOpens?.severity, "ok");
      assert.match(demoOpens.detail, /demo's generated signing key/);
    });
  });
});

Deno.test("doctor on KV_PATH=:memory: says it is a store of its own, not the server's, and opens none", async () => {
  let opened = 0;
  const findings = await runDoctor({
    env: { KV_PATH: ":memory:" },
    // on a terminal: the demo's credentials have a place (tests/demo_start_doctor_test.ts)
    terminal: { stdout: true, stderr: true },
    openKv: (p) => {
      opened++;
      return Deno.openKv(p);
    },
  });
  assert.equal(opened, 0, "nothing to read: an in-memory store the doctor opened would be empty");
  const kv = findings.filter((f) => f.check === "kv");
  assert.deepEqual(kv.map((f) => f.severity), ["warn"]);
  assert.match(kv[0].detail, /in-memory store/);
  assert.doesNotMatch(findings.map((f) => f.detail).join("\n"), /reachable at :memory:/);
  assert.ok(!findings.some((f) => f.severity === "fail"), JSON.stringify(findings));
});

Deno.test("the doctor fails on a currency map naming an unknown currency, naming the variable and key", async () => {
  const findings = await runDoctor({
    env: { REFUND_APPROVAL_THRESHOLD: "ypj=75000,default=50000", KV_PATH: ":memory:" },
  });
  const config = findings.find((f) => f.check === "configuration")!;
  assert.equal(config.severity, "fail");
  assert.match(config.detail, /REFUND_APPROVAL_THRESHOLD .*"ypj".*did you mean jpy\?/);
});
