/**
 * Secrets: outside demo mode nothing starts without AUDIT_SIGNING_KEY (a key
 * kept in the same KV protects nothing); the key rotates as a list; a sealed
 * secret no configured key opens is 503 configuration_error, never a 500.
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig, requireSigningKey } from "../config.ts";
import { adminCli } from "../cli/admin.ts";
import { createTestApp } from "./helpers/app.ts";
import { createAdmin, currentOtp, jsonRequest } from "./helpers/identity.ts";
import { createApp } from "../app.ts";
import { createServices } from "../services/mod.ts";

const KEY_A = "key-a-0123456789abcdef0123456789abcdef";
const KEY_B = "key-b-0123456789abcdef0123456789abcdef";

Deno.test("attack: with a Stripe key and no AUDIT_SIGNING_KEY, the server, CLI and backfill refuse to start", async () => {
  const live = parseConfig({ STRIPE_SECRET_KEY: "sk_test_abc", KV_PATH: ":memory:" });
  for (const who of ["the server", "the admin CLI", "the backfill"]) {
    assert.throws(
      () => requireSigningKey(live, who),
      (e) => e instanceof ConfigError && /openssl rand -base64 48/.test(e.message),
    );
  }
  requireSigningKey(parseConfig({ KV_PATH: ":memory:" }), "the server"); // demo: generated
  const lines: string[] = [];
  const code = await adminCli(["list"], { STRIPE_SECRET_KEY: "sk_test_abc", KV_PATH: ":memory:" }, {
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
  });
  assert.equal(code, 1);
  assert.match(lines.join("\n"), /AUDIT_SIGNING_KEY: required outside demo mode/);
  const proc = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli/backfill.ts", "--since", "1d"],
    env: { STRIPE_SECRET_KEY: "sk_test_abc", KV_PATH: ":memory:", AUDIT_SIGNING_KEY: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(proc.code, 0);
  assert.match(new TextDecoder().decode(proc.stderr), /openssl rand -base64 48/);
});

Deno.test("AUDIT_SIGNING_KEY takes a list: the first signs, all verify", () => {
  const c = parseConfig({ AUDIT_SIGNING_KEY: `${KEY_B}, ${KEY_A}` });
  assert.equal(c.auditSigningKey, KEY_B);
  assert.deepEqual(c.auditSigningKeys, [KEY_B, KEY_A]);
  assert.throws(() => parseConfig({ AUDIT_SIGNING_KEY: `${KEY_B},short` }), /at least 32/);
});

Deno.test("attack: an admin sealed under another key is 503 configuration_error naming the setting, and a rotation list opens it", async () => {
  const t = await createTestApp({ env: { AUDIT_SIGNING_KEY: KEY_A } });
  try {
    const admin = await createAdmin(t, "admin");
    const withKeys = (keys: string) => {
      const config = parseConfig({ KV_PATH: ":memory:", AUDIT_SIGNING_KEY: keys });
      const deps = { ...t.deps, config: { ...config, auditSigningKey: config.auditSigningKey! } };
      return createApp(deps, createServices(deps));
    };
    const stepUp = (app: ReturnType<typeof createApp>, code: string) =>
      app.request(
        "/api/admin/step-up",
        jsonRequest("POST", { authorization: `Bearer ${admin.token}` }, { code }),
      );
    const wrongKey = await stepUp(withKeys(KEY_B), currentOtp(admin.totpSecret, t.clock));
    assert.equal(wrongKey.status, 503);
    const problem = await wrongKey.json();
    assert.equal(problem.code, "configuration_error");
    assert.match(problem.detail, /AUDIT_SIGNING_KEY/);
    assert.equal(t.logs.filter((l) => /unhandled error/.test(l)).length, 0);

    const rotated = withKeys(`${KEY_B},${KEY_A}`);
    const ok = await stepUp(rotated, currentOtp(admin.totpSecret, t.clock));
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    // recovery codes made under the old key still match
    const recovery = await stepUp(rotated, admin.recoveryCodes[0]);
    assert.equal(recovery.status, 200);
    await recovery.body?.cancel();
  } finally {
    await t.close();
  }
});
