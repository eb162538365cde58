/**
 * `POST /api/admin/enroll` declares as its 401s exactly the codes it answers
 * (README, "Accounts and enrollment"): an unknown code (`enrollment_invalid`);
 * a token rotation's code without, with a wrong or with a spent TOTP code
 * (`otp_required`, `otp_invalid`, `otp_replayed`); a second-factor reset's code
 * without the person's current token (`unauthenticated`).
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

/** A code for `target`'s new credentials: requested by `by`, approved by `approver`. */
async function handover(
  t: TestApp,
  what: "rotate-token" | "reset-2fa",
  target: TestAdmin,
  by: TestAdmin,
  approver: TestAdmin,
): Promise<string> {
  const asked = await post(t, `/api/admin/users/${target.id}/${what}`, otpHeaders(t, by));
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  const ok = await post(
    t,
    `/api/admin/approvals/${asked.body.id}/approve`,
    otpHeaders(t, approver),
  );
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  return ok.body.approval.handover.enrollment_code;
}

Deno.test("POST /api/admin/enroll declares as 401 exactly the codes it answers 401 with", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const declared = [
      ...doc.paths["/api/admin/enroll"].post.responses["401"].description.matchAll(/`(\w+)`/g),
    ].map((m) => m[1]).sort();

    const [a, b, c, d] = [
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
    ];
    const seen = new Set<string>();
    const enroll = async (headers: Record<string, string>, code: string, expect: number) => {
      const res = await post(t, "/api/admin/enroll", headers, { code });
      assert.equal(res.status, expect, JSON.stringify(res.body));
      if (res.status === 401) seen.add(res.body.code);
      return res;
    };

    await enroll({}, "enr_Xq3v9Lk2Pz8Rt6Wn4Bc7Md1Hs5Fj0Ga2", 401);

    // b spends their current TOTP code before their token's rotation is approved
    const spent = currentOtp(b.totpSecret, t.clock);
    const stepUp = await post(t, "/api/admin/step-up", authHeaders(b), { code: spent });
    assert.equal(stepUp.status, 200);
    const tokenCode = await handover(t, "rotate-token", b, a, c);
    await enroll({}, tokenCode, 401);
    await enroll({ "x-otp-code": "000000" }, tokenCode, 401);
    await enroll({ "x-otp-code": spent }, tokenCode, 401);

    const factorCode = await handover(t, "reset-2fa", d, a, c);
    await enroll({}, factorCode, 401);
    const redeemed = await enroll(authHeaders(d), factorCode, 200);
    assert.ok(redeemed.body.totp_secret);

    assert.deepEqual([...seen].sort(), declared);
    assert.deepEqual(declared, [
      "enrollment_invalid",
      "otp_invalid",
      "otp_replayed",
      "otp_required",
      "unauthenticated",
    ]);
  });
});
