/**
 * STRIPE_WEBHOOK_SECRETS (README, Configuration): each entry is `whsec_` and the signing secret
 * Stripe shows (32 characters; letters, digits, `+`, `/`, `=`). An entry that is not is refused
 * at start-up, as the doctor finds it, with one message per case naming the entry by its place
 * and the fix, never the secret: empty, no `whsec_`, nothing after it, a character no signing
 * secret holds (named, with its place), cut off. The server and the doctor agree.
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../config.ts";
import { runDoctor } from "../cli/doctor.ts";
import { childEnv, freePort } from "./helpers/kv_connect/mod.ts";
import { spawnCollected } from "./helpers/child_process.ts";

const FULL = "whsec_" + "A1b2C3d4".repeat(4);
/** As the Stripe CLI prints one (`stripe listen`): 64 hex digits. */
const CLI = "whsec_" + "0123456789abcdef".repeat(4);

function refusal(secrets: string): string {
  try {
    parseConfig({ STRIPE_SECRET_KEY: "sk_test_abc", STRIPE_WEBHOOK_SECRETS: secrets });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail(`STRIPE_WEBHOOK_SECRETS=${secrets} was taken`);
}

Deno.test("a full signing secret is taken, from the Dashboard or the Stripe CLI, alone or in a rotation", () => {
  for (const secrets of [FULL, CLI, `${FULL}, ${CLI}`, "whsec_" + "ab+/cd==".repeat(4)]) {
    const c = parseConfig({ STRIPE_SECRET_KEY: "sk_test_abc", STRIPE_WEBHOOK_SECRETS: secrets });
    assert.deepEqual(c.stripe.webhookSecrets, secrets.split(",").map((s) => s.trim()));
  }
});

Deno.test("each bad entry has its own message naming its place and the fix, never the secret", () => {
  const cases: [string, RegExp][] = [
    [
      "whsec_",
      /STRIPE_WEBHOOK_SECRETS entry 1 of 1 is whsec_ with nothing after it: copy the whole signing secret/,
    ],
    [
      `${FULL},whsec_abc def0123456789abcdefghijklmn`,
      /STRIPE_WEBHOOK_SECRETS entry 2 of 2 has " " \(U\+0020\) at character 10, which no Stripe signing secret holds/,
    ],
    [
      "whsec_abc-def0123456789abcdefghijklmn",
      /entry 1 of 1 has "-" \(U\+002D\) at character 10, which no Stripe signing secret holds \(after whsec_: letters, digits, \+, \/ and =\)/,
    ],
    [
      "whsec_test_current_0123456789abcdef",
      /entry 1 of 1 has "_" \(U\+005F\) at character 11/,
    ],
    [`${FULL},,${CLI}`, /STRIPE_WEBHOOK_SECRETS entry 2 of 3 is empty: remove the extra comma/],
    [" ", /STRIPE_WEBHOOK_SECRETS is set but empty: set it to the endpoint's signing secret/],
    [
      "sk_test_0123456789abcdefghijklmnopqrstuv",
      /STRIPE_WEBHOOK_SECRETS entry 1 of 1 does not start with whsec_: copy the endpoint's signing secret/,
    ],
  ];
  for (const [secrets, expected] of cases) {
    const message = refusal(secrets);
    assert.match(message, expected, secrets);
    assert.doesNotMatch(message, /must start with whsec_/, "was said of every bad entry");
    for (const entry of secrets.split(",").filter((e) => e.length > 6)) {
      assert.ok(!message.includes(entry.slice(6)), `${message} prints the secret`);
    }
  }
});

const CUT =
  /STRIPE_WEBHOOK_SECRETS entry 2 of 2 looks cut off \(a signing secret is whsec_ and 32 characters\)/;

Deno.test("a cut-off entry: the doctor and the start refuse it alike, in the same words", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whsec_cut_" });
  try {
    const env = {
      KV_PATH: `${dir}/kv.sqlite3`,
      STRIPE_SECRET_KEY: "sk_test_0123456789abcdef",
      STRIPE_API_URL: "http://127.0.0.1:9",
      STRIPE_WEBHOOK_SECRETS: `${FULL},whsec_abc`,
      AUDIT_SIGNING_KEY: "whsec-cut-signing-key-0123456789abcdef",
      PORT: String(freePort()),
      LOG_FORMAT: "json",
    };
    assert.match(refusal(env.STRIPE_WEBHOOK_SECRETS), CUT);
    const findings = await runDoctor({ env });
    const failed = findings.filter((f) => f.severity === "fail");
    assert.equal(failed.length, 1, JSON.stringify(findings));
    assert.equal(failed[0].check, "configuration");
    assert.match(failed[0].detail, CUT);

    const server = spawnCollected(
      Deno.execPath(),
      ["run", "-A", "--quiet", "main.ts"],
      childEnv(env),
    );
    assert.equal(await server.exited(), 1, server.output());
    assert.match(server.output(), CUT);
    assert.doesNotMatch(server.output(), /listening/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
