/**
 * The first admin from FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE (README, "Deploying to
 * Deno Deploy"): made at start-up on a store with none, as a pending enrollment whose code is the
 * operator's, redeemed once at POST /api/admin/enroll; exactly one of isolates starting together;
 * nothing on a store with an admin; issued again only once expired unused; never logged.
 */
import assert from "node:assert/strict";
import { createIsolateOf, createTestApp, type TestApp, withTestApp } from "./helpers/app.ts";
import { auditEntries, createAdmin, sendJson } from "./helpers/identity.ts";
import { ConfigError, parseConfig } from "../config.ts";
import { listAllOpsAlerts } from "../kv/ops_alerts.ts";
import { listAllAdmins } from "../kv/admins.ts";
import { keys } from "../kv/keys.ts";
import { totpCode } from "../services/identity/totp.ts";

const CODE = "Zx9+Qk2/Lm4Rt7Wn1Bc8Md3Hs6Fj0Ga5Pe2Yu7Io4=";
const EMAIL = "Founder@Example.com";
const env = (extra: Record<string, string> = {}) => ({
  STRIPE_SECRET_KEY: "sk_test_first_admin",
  FIRST_ADMIN_EMAIL: EMAIL,
  FIRST_ADMIN_ENROLLMENT_CODE: CODE,
  ...extra,
});
const firstAdmin = () => parseConfig(env()).firstAdmin!;

function enroll(t: TestApp, code: string) {
  return sendJson(t, "POST", "/api/admin/enroll", {}, { code });
}

function assertNoCode(t: TestApp) {
  for (const line of t.logs) assert.ok(!line.includes(CODE), `the code is in a log line: ${line}`);
}

Deno.test("a start on a store with no admin makes one pending admin; the code enrolls once", async () => {
  await withTestApp(async (t) => {
    const outcome = await t.services.identity.startFirstAdmin(firstAdmin());
    assert.equal(outcome.outcome, "created");
    const admins = await listAllAdmins(t.kv);
    assert.equal(admins.length, 1);
    assert.equal(admins[0].email, "founder@example.com");
    assert.equal(admins[0].role, "admin");
    assert.equal(admins[0].created_by, "first-admin");
    assert.ok(admins[0].token_revoked_at, "no usable token until enrolled");
    // only the code's hash is stored
    for await (const e of t.kv.list({ prefix: [] })) {
      assert.ok(!JSON.stringify(e.value).includes(CODE), `the code is stored at ${e.key}`);
    }
    // audited as the CLI's create, with its admin_created ops alert
    const entries = await auditEntries(t.kv);
    const create = entries.find((e) => e.action === "user.create");
    assert.equal(create?.actor.id, "first-admin");
    assert.match(create?.reason ?? "", /break-glass \(first-admin\).*FIRST_ADMIN_EMAIL/);
    assert.ok(entries.some((e) => e.action === "ops_alert.raise"));
    const alerts = await listAllOpsAlerts(t.kv);
    assert.deepEqual(alerts.map((a) => [a.kind, a.admin_id]), [["admin_created", admins[0].id]]);
    assert.match(alerts[0].detail, /environment variables/);

    const enrolled = await enroll(t, CODE);
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.id, admins[0].id);
    assert.match(enrolled.body.token, /^pot_/);
    assert.ok(enrolled.body.totp_secret && enrolled.body.otpauth_uri);
    assert.equal(enrolled.body.recovery_codes.length, 8);
    const me = await sendJson(t, "GET", "/api/admin/me", {
      authorization: `Bearer ${enrolled.body.token}`,
    });
    assert.equal(me.status, 200);
    assert.equal(me.body.role, "admin");
    // single use
    const again = await enroll(t, CODE);
    assert.equal(again.status, 401);
    assert.ok(again.body.redeemed_at);
    // the admin works as any: a step-up with its TOTP code
    const stepUp = await sendJson(t, "POST", "/api/admin/step-up", {
      authorization: `Bearer ${enrolled.body.token}`,
    }, { code: totpCode(enrolled.body.totp_secret, t.clock.now()) });
    assert.equal(stepUp.status, 200);
    assertNoCode(t);
  }, { env: env() });
});

Deno.test("a restart before enrollment makes nothing new; once enrolled the variables only warn", async () => {
  await withTestApp(async (t) => {
    await t.services.identity.startFirstAdmin(firstAdmin());
    const before = (await auditEntries(t.kv)).length;
    t.clock.advance(3600_000);
    const waiting = await t.services.identity.startFirstAdmin(firstAdmin());
    assert.equal(waiting.outcome, "waiting");
    assert.equal((await listAllAdmins(t.kv)).length, 1);
    assert.equal((await auditEntries(t.kv)).length, before);
    assert.ok(t.logs.some((l) => l.includes("first admin waits for enrollment")));
    assert.equal((await enroll(t, CODE)).status, 200);
    t.clock.advance(30 * 3600_000);
    const unused = await t.services.identity.startFirstAdmin(firstAdmin());
    assert.equal(unused.outcome, "unused");
    assert.match(JSON.stringify(unused), /has enrolled/);
    assert.ok(t.logs.some((l) => l.includes("are no longer used: remove them")));
    assert.equal((await listAllAdmins(t.kv)).length, 1);
    // its code is spent for good: no start issues it again, and it opens nothing
    assert.equal((await enroll(t, CODE)).status, 401);
    assertNoCode(t);
  }, { env: env() });
});

Deno.test("the variables on a store that has an admin make nothing, and say to remove them", async () => {
  await withTestApp(async (t) => {
    const existing = await createAdmin(t, "viewer");
    const outcome = await t.services.identity.startFirstAdmin(firstAdmin());
    assert.equal(outcome.outcome, "unused");
    assert.deepEqual((await listAllAdmins(t.kv)).map((a) => a.id), [existing.id]);
    assert.equal((await t.kv.get(keys.firstAdmin())).value, null);
    assert.equal((await listAllOpsAlerts(t.kv)).length, 0);
    assert.equal((await enroll(t, CODE)).status, 401);
    assert.ok(t.logs.some((l) => l.includes("are no longer used: remove them")));
    assertNoCode(t);
  }, { env: env() });
});

Deno.test("isolates starting together on an empty store make exactly one first admin", async () => {
  const t = await createTestApp({ env: env(), file: true });
  const others = await Promise.all([1, 2, 3, 4].map(() => createIsolateOf(t)));
  try {
    const all = [t, ...others];
    // each isolate twice, all at once
    const outcomes = await Promise.all(
      [...all, ...all].map((i) => i.services.identity.startFirstAdmin(firstAdmin())),
    );
    assert.equal(outcomes.filter((o) => o.outcome === "created").length, 1);
    assert.equal(outcomes.filter((o) => o.outcome === "waiting").length, outcomes.length - 1);
    assert.equal((await listAllAdmins(t.kv)).length, 1);
    assert.equal((await listAllOpsAlerts(t.kv)).length, 1);
    const creates = (await auditEntries(t.kv)).filter((e) => e.action === "user.create");
    assert.equal(creates.length, 1);
    assert.equal((await enroll(t, CODE)).status, 200);
    for (const i of all) assertNoCode(i);
  } finally {
    for (const i of others) await i.close();
    await t.close();
  }
});

Deno.test("a code expired unused is issued again for the same account, audited; never a second admin", async () => {
  await withTestApp(async (t) => {
    const created = await t.services.identity.startFirstAdmin(firstAdmin());
    assert.equal(created.outcome, "created");
    t.clock.advance(25 * 3600_000);
    const expired = await enroll(t, CODE);
    assert.equal(expired.status, 401);
    assert.match(expired.body.detail, /start the server again with FIRST_ADMIN_EMAIL/);
    const [a, b] = await Promise.all([
      t.services.identity.startFirstAdmin(firstAdmin()),
      t.services.identity.startFirstAdmin(firstAdmin()),
    ]);
    assert.deepEqual([a.outcome, b.outcome].sort(), ["reissued", "waiting"]);
    const admins = await listAllAdmins(t.kv);
    assert.equal(admins.length, 1);
    const reissues = (await auditEntries(t.kv)).filter((e) =>
      e.action === "user.enrollment_reissue"
    );
    assert.equal(reissues.length, 1);
    assert.equal(reissues[0].target?.id, admins[0].id);
    assert.equal(reissues[0].actor.id, "first-admin");
    // the code opens the same account again, for 24 h from that start
    const enrolled = await enroll(t, CODE);
    assert.equal(enrolled.status, 200);
    assert.equal(enrolled.body.admin.id, admins[0].id);
    assertNoCode(t);
  }, { env: env() });
});

Deno.test("the variables are both or neither, the code at least 32 characters, never quoted", () => {
  const refused = (e: Record<string, string>, variable: string, says: RegExp) => {
    assert.throws(() => parseConfig(e), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`${variable}: `));
      assert.match(err.message, says);
      for (const v of Object.values(e)) {
        if (v.length >= 8 && v !== e.STRIPE_SECRET_KEY) assert.ok(!err.message.includes(v));
      }
      return true;
    });
  };
  const short = "Zx9+Qk2/Lm4Rt7Wn1Bc8Md3Hs6Fj0G"; // 31
  refused(
    env({ FIRST_ADMIN_ENROLLMENT_CODE: short }),
    "FIRST_ADMIN_ENROLLMENT_CODE",
    /at least 32/,
  );
  refused(
    env({ FIRST_ADMIN_ENROLLMENT_CODE: short }),
    "FIRST_ADMIN_ENROLLMENT_CODE",
    /openssl rand -base64 32/,
  );
  refused(
    env({ FIRST_ADMIN_ENROLLMENT_CODE: `${CODE} ${CODE}` }),
    "FIRST_ADMIN_ENROLLMENT_CODE",
    /no spaces/,
  );
  const { FIRST_ADMIN_EMAIL: _e, ...noEmail } = env();
  refused(noEmail, "FIRST_ADMIN_EMAIL", /FIRST_ADMIN_ENROLLMENT_CODE is/);
  const { FIRST_ADMIN_ENROLLMENT_CODE: _c, ...noCode } = env();
  refused(noCode, "FIRST_ADMIN_ENROLLMENT_CODE", /openssl rand/);
  refused(env({ FIRST_ADMIN_EMAIL: "founder" }), "FIRST_ADMIN_EMAIL", /email address/);
  const { STRIPE_SECRET_KEY: _k, ...demo } = env();
  refused(demo, "FIRST_ADMIN_EMAIL", /demo mode makes its own first admin/);
  assert.deepEqual(parseConfig(env()).firstAdmin, { email: "founder@example.com", code: CODE });
  assert.equal(parseConfig({ STRIPE_SECRET_KEY: "sk_test_x" }).firstAdmin, undefined);
});
