/**
 * An admin whose second factor was reset through the API (README, "Accounts and enrollment":
 * `POST /api/admin/users/{id}/reset-2fa`, approved by someone else) has no factor until they
 * redeem the enrollment code the approver holds, with their current token. What a step-up or a
 * 2FA call (`X-OTP-Code`) tells them says so while that code is waiting; only once none is
 * waiting does it say to have the factor reset, through the API and a second admin.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  currentOtp,
  jsonRequest,
  otpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";

async function post(t: TestApp, path: string, headers: Record<string, string>, body: unknown = {}) {
  const res = await t.app.request(path, jsonRequest("POST", headers, body));
  return { status: res.status, body: await res.json() };
}

/** A asks to reset B's second factor, C approves: C's answer carries the code for B. */
async function resetApproved(t: TestApp) {
  const [a, b, c] = [await createAdmin(t), await createAdmin(t), await createAdmin(t)];
  const asked = await post(t, `/api/admin/users/${b.id}/reset-2fa`, otpHeaders(t, a));
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  const id = asked.body.approval?.id ?? asked.body.id;
  const ok = await post(t, `/api/admin/approvals/${id}/approve`, otpHeaders(t, c));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const code: string = ok.body.approval.handover.enrollment_code;
  assert.match(code, /^enr_/);
  return { a, b, c, code };
}

/** What B hears from a step-up and from a 2FA call with X-OTP-Code (their old factor's codes). */
async function refusals(t: TestApp, b: TestAdmin) {
  const stepUp = await post(t, "/api/admin/step-up", authHeaders(b), {
    code: currentOtp(b.totpSecret, t.clock),
  });
  const otp = await post(t, "/api/admin/me/rotate-token", {
    ...authHeaders(b),
    "x-otp-code": currentOtp(b.totpSecret, t.clock),
  });
  return [stepUp, otp];
}

Deno.test("reset-2fa approved, the code not yet redeemed: step-up and X-OTP-Code say to redeem the approver's code at POST /api/admin/enroll", async () => {
  await withTestApp(async (t) => {
    const { b, c, code } = await resetApproved(t);
    for (const refused of await refusals(t, b)) {
      assert.equal(refused.status, 401, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "otp_invalid");
      const detail: string = refused.body.detail;
      assert.match(detail, /POST \/api\/admin\/enroll/, detail);
      assert.ok(detail.includes(c.id), `names the approver who holds the code: ${detail}`);
      assert.match(detail, /current token/, detail);
      assert.doesNotMatch(detail, /deno task admin/, detail);
      assert.doesNotMatch(detail, /ask an admin to reset/, detail);
    }
    // and it is true: redeemed with B's current token, the code gives B a new second factor
    const redeemed = await post(t, "/api/admin/enroll", authHeaders(b), { code });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    const step = await post(t, "/api/admin/step-up", authHeaders(b), {
      code: currentOtp(redeemed.body.totp_secret, t.clock),
    });
    assert.equal(step.status, 200, JSON.stringify(step.body));
  });
});

Deno.test("reset-2fa approved and its code expired unredeemed: step-up and X-OTP-Code say to ask for a reset through the API, the CLI being break-glass", async () => {
  await withTestApp(async (t) => {
    const { b } = await resetApproved(t);
    t.clock.advance(24 * 3600_000 + 1_000); // the code's 24 h are over
    for (const refused of await refusals(t, b)) {
      assert.equal(refused.status, 401, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "otp_invalid");
      const detail: string = refused.body.detail;
      assert.ok(detail.includes(`POST /api/admin/users/${b.id}/reset-2fa`), detail);
      assert.match(detail, /second admin/, detail);
      assert.match(detail, /break-glass/i, detail);
      assert.match(detail, /no enrollment code for one is waiting/, detail);
      assert.doesNotMatch(detail, /handed to adm_/, detail);
    }
  });
});
