/**
 * Attacks with one admin's credentials on accounts and grants: no API answer
 * carries another person's credentials, approving roles and credential
 * resets wait for someone else, and tokens expire.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { auditEntries, authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";
import { otpHeaders, stepUpHeaders } from "./helpers/identity.ts";

async function post(t: TestApp, path: string, headers: Record<string, string>, body: unknown = {}) {
  const res = await t.app.request(path, jsonRequest("POST", headers, body));
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** Fails when an answer carries an API token or TOTP secret. */
function assertNoCredentials(body: unknown) {
  const text = JSON.stringify(body);
  assert.doesNotMatch(text, /pot_[A-Za-z0-9_-]{43}/, "an API token in the answer");
  assert.doesNotMatch(text, /totp_secret|recovery_codes|otpauth/, "a second factor in the answer");
}

Deno.test("attack: one admin creates an operator and cannot use it to approve (pending, code only, linked)", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const created = await post(t, "/api/admin/users", otpHeaders(t, a), {
      email: "puppet@example.com",
      role: "operator",
    });
    assert.equal(created.status, 202);
    assertNoCredentials(created.body);
    assert.equal(created.body.admin, null);
    const approval = created.body.approval;
    assert.equal(approval.kind, "user.create");

    // the requester holds no code: the approver will hand it over
    assert.equal(created.body.enrollment_code, undefined);
    // the requester cannot approve
    const self = await post(t, `/api/admin/approvals/${approval.id}/approve`, otpHeaders(t, a));
    assert.equal(self.status, 403);
    assert.equal(self.body.code, "self_approval_forbidden");

    const ok = await post(t, `/api/admin/approvals/${approval.id}/approve`, otpHeaders(t, b), {
      approval_hash: approval.approval_hash,
    });
    assert.equal(ok.status, 200);
    assertNoCredentials(ok.body);
    assert.equal(ok.body.approval.status, "executed");
    const enrolled = await post(t, "/api/admin/enroll", {}, {
      code: ok.body.approval.handover.enrollment_code,
    });
    assert.equal(enrolled.status, 200);
    assert.equal(enrolled.headers.get("cache-control"), "no-store");
    assert.equal(enrolled.body.admin.role, "operator");
    const puppet: TestAdmin = {
      id: enrolled.body.admin.id,
      email: "puppet@example.com",
      role: "operator",
      token: enrolled.body.token,
      totpSecret: enrolled.body.totp_secret,
      otpauthUri: enrolled.body.otpauth_uri,
      recoveryCodes: enrolled.body.recovery_codes,
      lastOtpStep: null,
    };
    const enrollEntry = (await auditEntries(t.kv)).find((e) => e.action === "user.enroll");
    assert.equal(enrollEntry?.actor.id, puppet.id);

    // the new account is linked to its requester and approver: it approves neither's requests
    t.services.approvals.register("fraud.rule_disable", { execute: () => Promise.resolve({}) });
    for (const requester of [a, b]) {
      const req = await t.services.approvals.request("fraud.rule_disable", { rule: "x" }, {
        actor: { type: "admin", id: requester.id, role: "admin" },
        request: null,
        second_factor: true,
      }, { summary: "disable x" });
      const denied = await t.services.approvals.approve(
        {
          actor: { type: "admin", id: puppet.id, role: "admin" },
          request: null,
          second_factor: true,
        },
        req.id,
        {},
      ).then(() => null, (e) => e);
      assert.equal(denied?.extra?.rule, "linked_account");
    }
  });
});

Deno.test("attack: granting admin and resetting another admin's credentials need someone else; no secrets to the requester", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const c = await createAdmin(t, "admin");
    const x = await createAdmin(t, "viewer");

    const grant = await t.app.request(
      `/api/admin/users/${x.id}`,
      jsonRequest("PATCH", otpHeaders(t, a), { role: "admin" }),
    );
    assert.equal(grant.status, 202);
    const grantBody = await grant.json();
    assert.equal(grantBody.admin.role, "viewer");
    assert.equal(grantBody.pending_approval.kind, "user.role_grant");

    const rotate = await post(t, `/api/admin/users/${b.id}/rotate-token`, otpHeaders(t, a));
    assert.equal(rotate.status, 202);
    assertNoCredentials(rotate.body);
    const reset = await post(t, `/api/admin/users/${b.id}/reset-2fa`, otpHeaders(t, a));
    assert.equal(reset.status, 202);
    assertNoCredentials(reset.body);
    // B still works: nothing happened yet
    assert.equal((await t.app.request("/api/admin/me", { headers: authHeaders(b) })).status, 200);

    // neither the requester nor the target approves the rotation
    for (const who of [a, b]) {
      const r = await post(t, `/api/admin/approvals/${rotate.body.id}/approve`, otpHeaders(t, who));
      assert.equal(r.status, 403);
    }
    // a third admin does; the code goes to them, and only B can redeem it (B's own TOTP)
    const ok = await post(t, `/api/admin/approvals/${rotate.body.id}/approve`, otpHeaders(t, c));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("cache-control"), "no-store");
    assertNoCredentials(ok.body);
    const code = ok.body.approval.handover.enrollment_code;
    assert.match(code, /^enr_/);
    const stored = await t.services.approvals.get(rotate.body.id);
    assert.equal(stored.handover, undefined, "the code is not kept in the request");
    assert.equal((await t.app.request("/api/admin/me", { headers: authHeaders(b) })).status, 401);
    const noOtp = await post(t, "/api/admin/enroll", {}, { code });
    assert.equal(noOtp.status, 401);
    assert.equal(noOtp.body.code, "otp_required");
    const wrongOtp = await post(t, "/api/admin/enroll", { "x-otp-code": "000000" }, { code });
    assert.equal(wrongOtp.status, 401);
    const redeemed = await post(t, "/api/admin/enroll", {
      "x-otp-code": otpHeaders(t, b)["x-otp-code"],
    }, { code });
    assert.equal(redeemed.status, 200);
    assert.match(redeemed.body.token, /^pot_/);
    assert.equal(redeemed.body.totp_secret, undefined);
    const me = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${redeemed.body.token}` },
    });
    assert.equal(me.status, 200);
  });
});

Deno.test("tokens expire after API_TOKEN_TTL_DAYS; the owner rotates their own with 2FA", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "operator");
    const rotated = await post(t, "/api/admin/me/rotate-token", otpHeaders(t, a));
    assert.equal(rotated.status, 200);
    assert.equal(rotated.headers.get("cache-control"), "no-store");
    assert.equal((await t.app.request("/api/admin/me", { headers: authHeaders(a) })).status, 401);
    const fresh = { ...a, token: rotated.body.token };
    assert.equal(
      (await t.app.request("/api/admin/me", { headers: authHeaders(fresh) })).status,
      200,
    );
    t.clock.advance(30 * 24 * 3600_000 + 1);
    const expired = await t.app.request("/api/admin/me", { headers: authHeaders(fresh) });
    assert.equal(expired.status, 401);
    assert.match((await expired.json()).detail, /expired/);
    const noOtp = await t.app.request("/api/admin/me/rotate-token", { method: "POST" });
    assert.equal(noOtp.status, 401);
  }, { env: { API_TOKEN_TTL_DAYS: "30" } });
});

Deno.test("attack: 10 parallel rotate-token calls with one token: one new token, every other call refused", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, admin);
    const answers = await Promise.all(
      Array.from(
        { length: 10 },
        () => t.app.request("/api/admin/me/rotate-token", { method: "POST", headers }),
      ),
    );
    const bodies = await Promise.all(answers.map((r) => r.json()));
    const statuses = answers.map((r) => r.status);
    const won = bodies.filter((_, i) => statuses[i] === 200);
    assert.equal(won.length, 1, statuses.join(","));
    for (const [i, s] of statuses.entries()) {
      if (s === 200) continue;
      assert.ok([401, 409].includes(s), `${s}`);
      assert.match(bodies[i].detail, /rotated/);
    }
    const me = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${won[0].token}` },
    });
    assert.equal(me.status, 200, "the one token handed out works");
    await me.body?.cancel();
  });
});

Deno.test("attack: ten parallel requests for one operator email make one pending user.create, which each answers; another admin's is 409 naming it", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, a);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(t, "/api/admin/users", headers, {
          email: i % 2 ? "Twin@Example.com" : "twin@example.com",
          role: "operator",
        })),
    );
    const statuses = answers.map((r) => r.status);
    assert.deepEqual(statuses, Array(10).fill(202), statuses.join(","));
    const pending = answers[0].body.approval.id;
    for (const r of answers) assert.equal(r.body.approval.id, pending);
    const b = await createAdmin(t, "admin");
    const other = await post(t, "/api/admin/users", otpHeaders(t, b), {
      email: "twin@example.com",
      role: "operator",
    });
    assert.equal(other.status, 409);
    assert.ok(other.body.detail.includes(pending), other.body.detail);
    const page = await t.services.approvals.list({ status: "pending", limit: 100 });
    assert.equal(page.data.filter((r) => r.kind === "user.create").length, 1);
    // once that request is rejected, the email may be asked for again
    const rejected = await post(t, `/api/admin/approvals/${pending}/reject`, otpHeaders(t, a));
    assert.equal(rejected.status, 200);
    const again = await post(t, "/api/admin/users", headers, {
      email: "twin@example.com",
      role: "admin",
    });
    assert.equal(again.status, 202);
  });
});
