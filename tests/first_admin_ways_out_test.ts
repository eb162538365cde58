/**
 * The first admin's codes once they open nothing (README, "Deploying to Deno Deploy", step 4):
 * a redeemed, expired or replaced code says what is possible from where the account stands
 * (another admin, the break-glass CLI where it reaches the store, or a new database where
 * neither exists), never advice that cannot be followed. And FIRST_ADMIN_EMAIL changed before
 * enrollment is ignored, with a start's warning and the doctor's saying it differs.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { createAdmin, sendJson } from "./helpers/identity.ts";
import { parseConfig } from "../config.ts";
import { listAllAdmins } from "../kv/admins.ts";
import { checkFirstAdmin } from "../cli/doctor_first_admin.ts";

const C1 = "Zx9+Qk2/Lm4Rt7Wn1Bc8Md3Hs6Fj0Ga5Pe2Yu7Io4=";
const C2 = "Ab1+Cd2/Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3=";
const C3 = "Yy7+Xx6/Ww5Vv4Uu3Tt2Ss1Rr0Qq9Pp8Oo7Nn6Mm5=";
const env = (extra: Record<string, string> = {}) => ({
  STRIPE_SECRET_KEY: "sk_test_first_admin",
  FIRST_ADMIN_EMAIL: "a2@example.com",
  FIRST_ADMIN_ENROLLMENT_CODE: C1,
  ...extra,
});
const input = (email: string, code: string) =>
  parseConfig(env({ FIRST_ADMIN_EMAIL: email, FIRST_ADMIN_ENROLLMENT_CODE: code })).firstAdmin!;
const HOUR = 3600_000;

function enroll(t: TestApp, code: string) {
  return sendJson(t, "POST", "/api/admin/enroll", {}, { code });
}

/** The first admin made and enrolled with C1; the answer to C1 sent again. */
async function redeemedTwice(t: TestApp) {
  assert.equal(
    (await t.services.identity.startFirstAdmin(input("a2@example.com", C1))).outcome,
    "created",
  );
  assert.equal((await enroll(t, C1)).status, 200);
  const again = await enroll(t, C1);
  assert.equal(again.status, 401);
  assert.ok(again.body.redeemed_at);
  return again.body.detail as string;
}

Deno.test("a redeemed first admin's code, the only admin, on a store only the server reaches: no advice it cannot follow", async () => {
  // KV_PATH=:memory: (the test app's): as with Deno Deploy's own database, no CLI reaches it
  await withTestApp(async (t) => {
    assert.equal(t.deps.config.kvPath, ":memory:");
    const detail = await redeemedTwice(t);
    assert.match(detail, /If you sent it twice, use what the first answer carried/);
    assert.match(detail, /no other admin exists, and only this server reaches its store/);
    assert.match(detail, /cannot be recovered through the API/);
    assert.match(
      detail,
      /new, empty database .*FIRST_ADMIN_EMAIL and a new FIRST_ADMIN_ENROLLMENT_CODE/,
    );
    assert.doesNotMatch(detail, /ask an admin|another admin for|deno task admin/);
  }, { env: env() });
});

Deno.test("a redeemed first admin's code, where the CLI reaches the store: break-glass, named for that account", async () => {
  await withTestApp(async (t) => {
    const detail = await redeemedTwice(t);
    const [admin] = await listAllAdmins(t.kv);
    assert.match(detail, /no other admin exists to hand one over/);
    assert.ok(detail.includes(`deno task admin rotate-token --id ${admin.id}`), detail);
    assert.ok(detail.includes(`deno task admin reset-2fa --id ${admin.id}`), detail);
    assert.doesNotMatch(detail, /cannot be recovered/);
  }, { env: env({ KV_PATH: "./data/kv.sqlite3" }) });
});

Deno.test("a redeemed first admin's code once another admin exists: ask them", async () => {
  await withTestApp(async (t) => {
    assert.equal(
      (await t.services.identity.startFirstAdmin(input("a2@example.com", C1))).outcome,
      "created",
    );
    assert.equal((await enroll(t, C1)).status, 200);
    await createAdmin(t, "admin");
    const again = await enroll(t, C1);
    assert.equal(again.status, 401);
    assert.match(again.body.detail, /ask another admin for a new code at once/);
    assert.doesNotMatch(again.body.detail, /cannot be recovered|deno task admin/);
  }, { env: env() });
});

Deno.test("an old first admin's code after a reissue: the newer one waits, then the account has enrolled since", async () => {
  await withTestApp(async (t) => {
    const id = (await t.services.identity.startFirstAdmin(input("a2@example.com", C1))).outcome;
    assert.equal(id, "created");
    t.clock.advance(25 * HOUR);
    const expired = await enroll(t, C1);
    assert.match(expired.body.detail, /start the server again with FIRST_ADMIN_EMAIL/);
    // a start with another code issues that one for the same account
    assert.equal(
      (await t.services.identity.startFirstAdmin(input("a2@example.com", C2))).outcome,
      "reissued",
    );
    const replaced = await enroll(t, C1);
    assert.equal(replaced.status, 401);
    assert.match(
      replaced.body.detail,
      /a later start issued another code for adm_\S+ .*redeem that one/,
    );
    assert.doesNotMatch(replaced.body.detail, /start the server again/);
    // the newer one lapses too: a start issues the code set then
    t.clock.advance(25 * HOUR);
    const both = await enroll(t, C1);
    assert.match(
      both.body.detail,
      /and so did the code a later start issued .*start the server again/,
    );
    assert.equal(
      (await t.services.identity.startFirstAdmin(input("a2@example.com", C2))).outcome,
      "reissued",
    );
    assert.equal((await enroll(t, C2)).status, 200);
    const old = await enroll(t, C1);
    assert.equal(old.status, 401);
    assert.match(old.body.detail, /has enrolled since, with a code issued later: no start issues/);
    assert.doesNotMatch(
      old.body.detail,
      /start the server again|while that admin has not enrolled/,
    );
    assert.match(old.body.detail, /cannot be recovered through the API/);
  }, { env: env() });
});

Deno.test("FIRST_ADMIN_EMAIL changed before enrollment: the start and the doctor say it differs and is ignored", async () => {
  await withTestApp(async (t) => {
    assert.equal(
      (await t.services.identity.startFirstAdmin(input("a2@example.com", C2))).outcome,
      "created",
    );
    const [a2] = await listAllAdmins(t.kv);
    const differs = () => t.logs.filter((l) => l.includes("FIRST_ADMIN_EMAIL differs"));
    assert.deepEqual(differs(), [], "the same email: no warning");
    const same = await checkFirstAdmin(
      parseConfig(env({ FIRST_ADMIN_ENROLLMENT_CODE: C2 })),
      t.kv,
      t.clock.now(),
    );
    assert.ok(!same.some((f) => f.detail.includes("differs")), JSON.stringify(same));

    const other = input("other@example.com", C3);
    const waiting = await t.services.identity.startFirstAdmin(other);
    assert.equal(waiting.outcome, "waiting");
    assert.equal(differs().length, 1);
    const line = JSON.parse(differs()[0]);
    assert.equal(line.level, "warn");
    assert.match(
      line.msg,
      /differs from the email of the first admin waiting to enroll, and is ignored/,
    );
    assert.equal(line.admin_id, a2.id);
    assert.equal(line.email, "a***@example.com");
    assert.equal(line.first_admin_email, "o***@example.com");
    const config = parseConfig(
      env({ FIRST_ADMIN_EMAIL: "other@example.com", FIRST_ADMIN_ENROLLMENT_CODE: C3 }),
    );
    const found = await checkFirstAdmin(config, t.kv, t.clock.now());
    const warn = found.find((f) => f.detail.includes("differs"));
    assert.equal(warn?.severity, "warn", JSON.stringify(found));
    assert.ok(
      warn!.detail.includes("other@example.com") && warn!.detail.includes("a2@example.com"),
    );
    assert.ok(warn!.detail.includes(a2.id));

    // after expiry the code goes to a2's account, still said
    t.clock.advance(25 * HOUR);
    const later = await checkFirstAdmin(config, t.kv, t.clock.now());
    assert.ok(later.some((f) => f.severity === "warn" && f.detail.includes("differs")));
    const reissued = await t.services.identity.startFirstAdmin(other);
    assert.equal(reissued.outcome, "reissued");
    assert.equal(differs().length, 2);
    assert.equal((await listAllAdmins(t.kv)).length, 1);
    const enrolled = await enroll(t, C3);
    assert.equal(enrolled.body.admin.id, a2.id);
    assert.equal(enrolled.body.admin.email, "a2@example.com");
  }, { env: env() });
});
