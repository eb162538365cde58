/**
 * Whoever approves an account that can approve hands over its credentials
 * (README, "Two-person rules", "Accounts and enrollment"): the requester of a
 * `user.create` or `user.role_grant` for operator or admin never holds the
 * account's enrollment code, so one admin cannot create two accounts and
 * have them approve each other.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  accountMadeBy,
  createAdmin,
  jsonRequest,
  meStatus,
  otpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";

async function post(t: TestApp, path: string, headers: Record<string, string>, body: unknown = {}) {
  const res = await t.app.request(path, jsonRequest("POST", headers, body));
  return {
    status: res.status,
    body: await res.json(),
    cacheControl: res.headers.get("cache-control"),
  };
}

function approve(t: TestApp, by: TestAdmin, approval: { id: string; approval_hash: string }) {
  return post(t, `/api/admin/approvals/${approval.id}/approve`, otpHeaders(t, by), {
    approval_hash: approval.approval_hash,
  });
}

Deno.test("attack: an operator or admin account asked for by R is handed over by its approver, never by R", async () => {
  await withTestApp(async (t) => {
    const r = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const o1 = await post(t, "/api/admin/users", otpHeaders(t, r), {
      email: "o1@example.com",
      role: "operator",
    });
    const a2 = await post(t, "/api/admin/users", otpHeaders(t, r), {
      email: "a2@example.com",
      role: "admin",
    });
    for (const asked of [o1, a2]) {
      assert.equal(asked.status, 202);
      assert.equal(asked.body.enrollment_code, undefined, "no code for the requester");
      assert.equal(asked.body.approval.kind, "user.create");
    }
    const ok = await approve(t, b, o1.body.approval);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.cacheControl, "no-store");
    const code = ok.body.approval.handover?.enrollment_code;
    assert.match(code ?? "", /^enr_/);
    assert.equal(ok.body.approval.result.handover, undefined, "the code is not stored");
    const enrolled = await post(t, "/api/admin/enroll", {}, { code });
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.email, "o1@example.com");
    assert.equal(enrolled.body.admin.role, "operator");
    assert.equal(await meStatus(t, enrolled.body.token), 200);
  });
});

Deno.test("attack: an approved grant of operator revokes the account's credentials and hands new ones over through the approver", async () => {
  await withTestApp(async (t) => {
    const r = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    // R creates a viewer alone and holds its code (roles that cannot approve keep that flow)
    const viewer = await post(t, "/api/admin/users", otpHeaders(t, r), {
      email: "v@example.com",
      role: "viewer",
    });
    assert.equal(viewer.status, 201);
    const held = await post(t, "/api/admin/enroll", {}, { code: viewer.body.enrollment_code });
    assert.equal(held.status, 200);
    const id = held.body.admin.id;
    const grant = await t.app.request(
      `/api/admin/users/${id}`,
      jsonRequest("PATCH", otpHeaders(t, r), { role: "operator" }),
    );
    assert.equal(grant.status, 202);
    const pending = (await grant.json()).pending_approval;
    const ok = await approve(t, b, pending);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.approval.status, "executed");
    const code = ok.body.approval.handover?.enrollment_code;
    assert.match(code ?? "", /^enr_/);
    assert.equal(await meStatus(t, held.body.token), 401, "the viewer's token stops");
    const enrolled = await post(t, "/api/admin/enroll", {}, { code });
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.role, "operator");
    assert.notEqual(enrolled.body.totp_secret, held.body.totp_secret);
    assert.equal(await meStatus(t, enrolled.body.token), 200);
  });
});

Deno.test("attack: a viewer's unredeemed code does not open the account once a role grant to operator is approved", async () => {
  await withTestApp(async (t) => {
    const r = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    // R makes a viewer and keeps its code instead of handing it over
    const viewer = await post(t, "/api/admin/users", otpHeaders(t, r), {
      email: "v1@example.com",
      role: "viewer",
    });
    assert.equal(viewer.status, 201);
    const keptCode = viewer.body.enrollment_code;
    t.clock.advance(1000);
    const res = await t.app.request(
      `/api/admin/users/${viewer.body.admin.id}`,
      jsonRequest("PATCH", otpHeaders(t, r), { role: "operator" }),
    );
    assert.equal(res.status, 202);
    const grant = (await res.json()).pending_approval;
    t.clock.advance(1000);
    const approved = await approve(t, b, grant);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const handed = approved.body.approval.handover.enrollment_code;
    // the code R kept opens nothing; the one B was given does
    const stale = await post(t, "/api/admin/enroll", {}, { code: keptCode });
    assert.equal(stale.status, 401, JSON.stringify(stale.body));
    assert.match(stale.body.detail, /changed after this code was issued/);
    const enrolled = await post(t, "/api/admin/enroll", {}, { code: handed });
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.role, "operator");
  });
});

Deno.test("attack: re-enabling a support account together with a grant of operator leaves the requester's code dead once the grant is approved", async () => {
  await withTestApp(async (t) => {
    const r = await createAdmin(t, "admin");
    const c = await createAdmin(t, "admin");
    const s = await accountMadeBy(t, r, "support"); // not yet enrolled: r re-enables it alone
    const patch = async (body: unknown) =>
      await t.app.request(`/api/admin/users/${s.id}`, jsonRequest("PATCH", otpHeaders(t, r), body));
    assert.equal((await patch({ status: "disabled" })).status, 200);
    t.clock.advance(1000);
    const res = await patch({ status: "active", role: "operator" });
    assert.equal(res.status, 202);
    const body = await res.json();
    const kept = body.handover.enrollment_code; // handed to R for the support account
    t.clock.advance(1000);
    const approved = await approve(t, c, body.pending_approval);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const stale = await post(t, "/api/admin/enroll", {}, { code: kept });
    assert.equal(stale.status, 401, "R's code would open an operator account");
    const handed = await post(t, "/api/admin/enroll", {}, {
      code: approved.body.approval.handover.enrollment_code,
    });
    assert.equal(handed.body.admin.role, "operator");
  });
});

Deno.test("a second role grant for an account while one waits is 409 naming the first", async () => {
  await withTestApp(async (t) => {
    const r = await createAdmin(t, "admin");
    const v = await createAdmin(t, "viewer");
    const patch = async (role: string) =>
      await t.app.request(
        `/api/admin/users/${v.id}`,
        jsonRequest("PATCH", otpHeaders(t, r), { role }),
      );
    const first = await patch("operator");
    assert.equal(first.status, 202);
    const waiting = (await first.json()).pending_approval.id;
    const second = await patch("admin");
    assert.equal(second.status, 409);
    const problem = await second.json();
    assert.equal(problem.approval_id, waiting);
  });
});

Deno.test("attack: the approver of two accounts holds both codes: those accounts count as linked and cannot approve each other", async () => {
  await withTestApp(async (t) => {
    const honest = await createAdmin(t, "admin");
    const rogue = await createAdmin(t, "admin");
    const held: { token: string; totp_secret: string; admin: { id: string } }[] = [];
    for (const email of ["p1@example.com", "p2@example.com"]) {
      const asked = await post(t, "/api/admin/users", otpHeaders(t, honest), {
        email,
        role: "admin",
      });
      assert.equal(asked.status, 202);
      const ok = await approve(t, rogue, asked.body.approval);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const code = ok.body.approval.handover.enrollment_code;
      const enrolled = await post(t, "/api/admin/enroll", {}, { code });
      assert.equal(enrolled.status, 200);
      held.push(enrolled.body);
    }
    const [p1, p2]: TestAdmin[] = held.map((h) => ({
      id: h.admin.id,
      email: "",
      otpauthUri: "",
      role: "admin" as const,
      token: h.token,
      totpSecret: h.totp_secret,
      recoveryCodes: [],
      lastOtpStep: null,
    }));
    // p1 asks to loosen a fraud rule; p2, whose code went through the same hands, may not approve
    const asked = await t.app.request(
      "/api/admin/payments/fraud/rules/velocity",
      jsonRequest("PUT", otpHeaders(t, p1), { alert_at: 50 }),
    );
    assert.equal(asked.status, 202);
    const approval = (await asked.json()).approval;
    const refused = await approve(t, p2, approval);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(refused.body.detail, /one person handed over both your credentials/);
    // someone else, neither linked to p1 nor sharing a handler with it, can
    const third = await createAdmin(t, "admin");
    const ok = await approve(t, third, approval);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });
});
