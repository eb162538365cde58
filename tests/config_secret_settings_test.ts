/**
 * Secret settings with a stray character (README, Configuration): a Stripe key read from a
 * file that ends in a line break, or copied with a space, is refused naming the character, its
 * place and the fix, as STRIPE_WEBHOOK_SECRETS entries are, not as a key of the wrong kind; the
 * value itself is never printed. METRICS_TOKEN, ALERT_WEBHOOK_SECRET and
 * FIRST_ADMIN_ENROLLMENT_CODE say what is wrong and how to make a good one.
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../config.ts";
import { runDoctor } from "../cli/doctor.ts";

const KEY = "sk_test_abcdefghijklmnop";

function refusal(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail("expected parseConfig to refuse the environment");
}

Deno.test("a Stripe key with whitespace at its end, start or inside is told as that, with the fix, never quoted", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "a trailing space",
      `${KEY} `,
      /has " " \(U\+0020\) at character 25 of 25.*ends in whitespace/,
    ],
    [
      "a secret file's line break",
      `${KEY}\n`,
      /has "\\n" \(U\+000A\) at character 25 of 25.*ends in whitespace \(a line break a secret file/,
    ],
    [
      "a space inside",
      "sk_test_abcdefgh ijklmnop",
      /" " \(U\+0020\) at character 17 of 25.*inside/,
    ],
    ["a leading space", ` ${KEY}`, /" " \(U\+0020\) at character 1 of 25.*starts with whitespace/],
  ];
  for (const [what, key, expected] of cases) {
    await t.step(what, () => {
      const message = refusal({ STRIPE_SECRET_KEY: key });
      assert.match(message, /STRIPE_SECRET_KEY: STRIPE_SECRET_KEY has /);
      assert.match(message, expected);
      assert.match(message, /set STRIPE_SECRET_KEY to (the value alone|one value)/);
      assert.doesNotMatch(message, /must start with/, "the prefix is right: it is not blamed");
      assert.doesNotMatch(message, /abcdefgh/, "the key is never printed");
    });
  }
});

Deno.test("a Stripe key of another kind, or with another character, is told as that", () => {
  assert.match(
    refusal({ STRIPE_SECRET_KEY: "pk_test_abc" }),
    /must start with sk_live_, sk_test_, rk_live_ or rk_test_ \(a pk_ key is a publishable key/,
  );
  assert.match(
    refusal({ STRIPE_SECRET_KEY: "whsec_abc" }),
    /a whsec_ value is a webhook signing secret: it goes in STRIPE_WEBHOOK_SECRETS/,
  );
  assert.match(
    refusal({ STRIPE_SECRET_KEY: "sk_test_ab-cd" }),
    /has "-" \(U\+002D\) at character 11 of 13, which no Stripe API key holds \(after sk_test_: letters, digits and _\): copy the key again from the Stripe Dashboard/,
  );
  assert.match(refusal({ STRIPE_SECRET_KEY: "rk_live_" }), /is rk_live_ with nothing after it/);
  for (const key of ["sk_live_abc123", "sk_test_51Ab_cD", "rk_test_x", "rk_live_Y9"]) {
    assert.equal(parseConfig({ STRIPE_SECRET_KEY: key }).stripe.secretKey, key);
  }
});

Deno.test("the doctor refuses a Stripe key with a trailing line break in the start's words", async () => {
  const findings = await runDoctor({ env: { STRIPE_SECRET_KEY: `${KEY}\n`, KV_PATH: ":memory:" } });
  assert.equal(findings.length, 1);
  assert.equal(findings[0].severity, "fail");
  assert.match(findings[0].detail, /"\\n" \(U\+000A\) at character 25 of 25.*ends in whitespace/);
});

Deno.test("METRICS_TOKEN with a line break or space is refused: no scrape could send it", () => {
  const token = "scrape-token-0123456789";
  assert.match(
    refusal({ METRICS_TOKEN: `${token}\n` }),
    /METRICS_TOKEN has "\\n" \(U\+000A\) at character 24 of 24, which a bearer token cannot carry.*ends in whitespace/,
  );
  assert.match(refusal({ METRICS_TOKEN: "scrape-token 0123456789" }), /U\+0020.*inside/);
  assert.match(
    refusal({ METRICS_TOKEN: "short" }),
    /METRICS_TOKEN must be at least 16 characters; make one with `openssl rand -base64 32`/,
  );
  assert.equal(parseConfig({ METRICS_TOKEN: token }).metricsToken, token);
});

Deno.test("METRICS_TOKEN with a character a Bearer token cannot carry (RFC 6750 b64token) is refused at start-up and by the doctor, naming it", async () => {
  assert.match(
    refusal({ METRICS_TOKEN: "mytokén1234567890abc" }),
    /METRICS_TOKEN has "é" \(U\+00E9\) at character 6 of 20, which a bearer token cannot carry/,
  );
  for (const [c, code] of [['"', "0022"], [",", "002C"], ["'", "0027"], ["=", "003D"]]) {
    const message = refusal({ METRICS_TOKEN: `scrape${c}token-0123456789` });
    assert.ok(message.includes(`(U+${code}) at character 7 of 23`), message);
    assert.match(message, /letters, digits and - \. _ ~ \+ \/, then = at the end only/);
    assert.match(message, /make one with `openssl rand -base64 32`/);
  }
  // what `openssl rand -base64 32` makes: + / and a trailing = are a Bearer token's own
  const b64 = "q4+Zr/0m9Xw1Tq8pLk2Jv7Hs3Ne6Ub5Yc0Rd4Fa1Gw=";
  assert.equal(parseConfig({ METRICS_TOKEN: b64 }).metricsToken, b64);
  assert.equal(
    parseConfig({ METRICS_TOKEN: "a.b_c~d-0123456789==" }).metricsToken,
    "a.b_c~d-0123456789==",
  );
  const findings = await runDoctor({
    env: { METRICS_TOKEN: "mytokén1234567890abc", KV_PATH: ":memory:" },
  });
  assert.equal(findings.length, 1);
  assert.equal(findings[0].severity, "fail");
  assert.match(findings[0].detail, /"é" \(U\+00E9\) at character 6 of 20/);
});

Deno.test("ALERT_WEBHOOK_SECRET shorter than 16 characters is refused with how to make one", () => {
  const message = refusal({ ALERT_WEBHOOK_SECRET: "short-secret" });
  assert.match(
    message,
    /ALERT_WEBHOOK_SECRET must be at least 16 characters \(it has 12\); make one with `openssl rand -base64 32` and give the receiver the same value/,
  );
  assert.doesNotMatch(message, /short-secret/);
  const secret = "alert-secret-0123456789";
  assert.equal(parseConfig({ ALERT_WEBHOOK_SECRET: secret }).alertWebhookSecret, secret);
});

Deno.test("FIRST_ADMIN_ENROLLMENT_CODE with a secret file's line break names it and the fix", () => {
  const message = refusal({
    FIRST_ADMIN_EMAIL: "first@example.com",
    FIRST_ADMIN_ENROLLMENT_CODE: "Q2xlYW4tY29kZS1mb3ItdGhlLWZpcnN0LWFkbWluLTEy\n",
    STRIPE_SECRET_KEY: KEY,
  });
  assert.match(message, /FIRST_ADMIN_ENROLLMENT_CODE: must be printable ASCII with no spaces/);
  assert.match(message, /"\\n" \(U\+000A\) at character 45 of 45; it ends in whitespace/);
  assert.doesNotMatch(message, /Q2xlYW4/);
});
