import assert from "node:assert/strict";
import { amountFor, ConfigError, parseConfig } from "../config.ts";

/** Signing secrets of the form Stripe gives (tests/config_webhook_secrets_test.ts) */
const WHSEC_ONE = "whsec_" + "One0123456789abcdefghijklmnopqrs";
const WHSEC_TWO = "whsec_" + "Two0123456789abcdefghijklmnopqrs";

function configError(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail("expected parseConfig to refuse the environment");
}

Deno.test("parseConfig() with an empty environment runs the local demo with the contract's defaults", () => {
  const c = parseConfig({});
  assert.equal(c.port, 8000);
  assert.equal(c.kvPath, "./data/kv.sqlite3");
  assert.equal(c.demo, true);
  assert.equal(c.stripe.apiUrl, "https://api.stripe.com");
  assert.equal(c.stripe.rateLimitPerS, 25);
  assert.equal(c.stripe.emulatorPort, 12111);
  assert.equal(c.refundApprovalThreshold, 50000);
  assert.equal(c.stepUpTtlS, 300);
  assert.equal(c.logLevel, "info");
  assert.equal(c.auditSigningKey, undefined);
  assert.equal(c.kvRuntimeTakeover, false);
});

Deno.test("parseConfig() reads KV_RUNTIME_TAKEOVER: 1 lets the server take a KV Connect store over", () => {
  assert.equal(parseConfig({ KV_RUNTIME_TAKEOVER: "1" }).kvRuntimeTakeover, true);
  assert.equal(parseConfig({ KV_RUNTIME_TAKEOVER: "0" }).kvRuntimeTakeover, false);
});

Deno.test("parseConfig() reads every variable of the contract", () => {
  const c = parseConfig({
    PORT: "9000",
    KV_PATH: ":memory:",
    STRIPE_SECRET_KEY: "sk_live_abc123",
    STRIPE_API_URL: "http://127.0.0.1:12111",
    STRIPE_WEBHOOK_SECRETS: `${WHSEC_ONE}, ${WHSEC_TWO}`,
    STRIPE_EMULATOR_PORT: "12112",
    REFUND_APPROVAL_THRESHOLD: "1000",
    AUDIT_SIGNING_KEY: "x".repeat(40),
    STEP_UP_TTL_S: "120",
    LOG_LEVEL: "debug",
  });
  assert.equal(c.port, 9000);
  assert.equal(c.kvPath, ":memory:");
  assert.equal(c.demo, false);
  assert.equal(c.stripe.livemode, true);
  assert.equal(c.stripe.rateLimitPerS, 90, "live keys default to 90 calls/s");
  assert.deepEqual(c.stripe.webhookSecrets, [WHSEC_ONE, WHSEC_TWO]);
  assert.equal(c.stripe.apiUrl, "http://127.0.0.1:12111");
  assert.equal(c.stripe.emulatorPort, 12112);
  assert.equal(c.refundApprovalThreshold, 1000);
  assert.equal(c.auditSigningKey, "x".repeat(40));
  assert.equal(c.stepUpTtlS, 120);
  assert.equal(c.logLevel, "debug");
});

Deno.test("parseConfig() refuses bad values naming the variable and what is allowed", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "eighty" }, /PORT: PORT must be a whole number/],
    [{ PORT: "70000" }, /PORT: PORT must be at most 65535/],
    [{ STRIPE_SECRET_KEY: "pk_test_123" }, /STRIPE_SECRET_KEY: .*sk_live_, sk_test_/],
    [{ STRIPE_API_URL: "ftp://example.com" }, /STRIPE_API_URL: .*http\(s\) URL/],
    [
      { STRIPE_WEBHOOK_SECRETS: `${WHSEC_ONE},nope` },
      /STRIPE_WEBHOOK_SECRETS: .*entry 2 of 2 does not start with whsec_/,
    ],
    [{ STRIPE_RATE_LIMIT_PER_S: "0" }, /STRIPE_RATE_LIMIT_PER_S: .*at least 1/],
    [{ REFUND_APPROVAL_THRESHOLD: "12.5" }, /REFUND_APPROVAL_THRESHOLD: .*whole number/],
    [{ AUDIT_SIGNING_KEY: "short" }, /AUDIT_SIGNING_KEY: .*at least 32 characters/],
    [{ STEP_UP_TTL_S: "5" }, /STEP_UP_TTL_S: .*at least 30/],
    [{ LOG_LEVEL: "verbose" }, /LOG_LEVEL: .*debug, info, warn, error/],
    [{ DEMO: "yes" }, /DEMO: DEMO must be 1 or 0/],
    [{ KV_RUNTIME_TAKEOVER: "yes" }, /KV_RUNTIME_TAKEOVER: KV_RUNTIME_TAKEOVER must be 1 or 0/],
  ];
  for (const [env, message] of cases) {
    await t.step(Object.keys(env)[0], () => {
      assert.match(configError(env), message);
    });
  }
});

Deno.test("parseConfig() lists every bad variable at once", () => {
  const message = configError({ PORT: "x", LOG_LEVEL: "loud" });
  assert.match(message, /PORT/);
  assert.match(message, /LOG_LEVEL/);
});

Deno.test("parseConfig() on Deno Deploy refuses demo mode unless DEMO=1", () => {
  assert.match(
    configError({ DENO_DEPLOYMENT_ID: "abc" }),
    /STRIPE_SECRET_KEY: not set on Deno Deploy/,
  );
  const demo = parseConfig({ DENO_DEPLOYMENT_ID: "abc", DEMO: "1" });
  assert.equal(demo.demo, true);
  assert.equal(demo.kvPath, undefined, "Deno Deploy uses the platform KV");
  const real = parseConfig({ DENO_DEPLOYMENT_ID: "abc", STRIPE_SECRET_KEY: "sk_test_x" });
  assert.equal(real.demo, false);
});

Deno.test("a currency map naming a key twice is refused, naming the variable and the key", () => {
  for (const name of ["REFUND_APPROVAL_THRESHOLD", "REFUND_DAILY_CAP_PER_OPERATOR"]) {
    for (
      const [raw, key] of [
        ["default=1,default=2", "default"],
        ["usd=100000,usd=1000", "usd"],
        ["USD=100000,eur=5,usd=1000", "usd"],
        ["default=5, DEFAULT=6", "default"],
      ]
    ) {
      assert.throws(
        () => parseConfig({ [name]: raw }),
        (e: Error) =>
          e instanceof ConfigError && e.message.includes(name) &&
          e.message.includes(`"${key}" twice`),
        `${name}=${raw}`,
      );
    }
    assert.equal(
      amountFor(
        parseConfig({ [name]: "usd=1,eur=2" })[
          name === "REFUND_APPROVAL_THRESHOLD" ? "refundApprovalThresholds" : "refundDailyCaps"
        ]!,
        "eur",
      ),
      2,
    );
  }
});

Deno.test("a currency map naming a currency Stripe does not charge in is refused, with the likely code", () => {
  for (const name of ["REFUND_APPROVAL_THRESHOLD", "REFUND_DAILY_CAP_PER_OPERATOR"]) {
    const message = configError({ [name]: "ypj=75000,default=50000" });
    assert.match(message, new RegExp(name));
    assert.match(message, /"ypj" is not a currency Stripe charges in/);
    assert.match(message, /did you mean jpy\?/);
    assert.match(configError({ [name]: "default=1,usf=5" }), /"usf" .*did you mean usd/);
    assert.match(configError({ [name]: "qqq=5" }), /"qqq" is not a currency/);
    // the three-decimal and zero-decimal ones are currencies, and the case is the operator's
    parseConfig({ [name]: "KWD=10000,jpy=75000,xof=1,eur=5,default=1" });
  }
});
