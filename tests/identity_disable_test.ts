/**
 * Disabling an admin voids what they started (README, "Accounts and
 * enrollment"): their pending two-person requests and unredeemed enrollment
 * codes expire in the disabling commit, and whatever escapes that (a request
 * or code the sweep did not reach) is refused when decided or redeemed.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  accountMadeBy,
  auditEntries,
  createAdmin,
  disableAdmin,
  jsonRequest,
  otpHeaders,
  patchUser,
  type TestAdmin,
} from "./helpers/identity.ts";
import type { AdminRecord } from "../domain/admin.ts";
import { systemContext } from "../domain/actor.ts";
import { keys } from "../kv/keys.ts";

async function post(t: TestApp, path: string, headers: Record<string, string>, body: unknown = {}) {
  const res = await t.app.request(path, jsonRequest("POST", headers, body));
  return { status: res.status, body: await res.json() };
}

/** Marks `id` disabled straight in KV: as if the disabling commit had not reached its requests. */
async function disableQuietly(t: TestApp, id: string): Promise<void> {
  const entry = await t.kv.get<AdminRecord>(keys.admin(id));
  await t.kv.set(keys.admin(id), { ...entry.value!, status: "disabled" });
}

async function requestOperator(t: TestApp, a: TestAdmin, email: string) {
  const created = await post(t, "/api/admin/users", otpHeaders(t, a), { email, role: "operator" });
  assert.equal(created.status, 202);
  assert.equal(created.body.enrollment_code, undefined, "the approver hands the code over");
  return created.body as { approval: { id: string; approval_hash: string } };
}

Deno.test("attack: a disabled admin's pending user.create expires when they are disabled; approving it later is refused", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const c = await createAdmin(t, "admin");
    const asked = await requestOperator(t, a, "sleeper@example.com");
    await disableAdmin(t, c, a.id);
    const request = await t.services.approvals.get(asked.approval.id);
    assert.equal(request.status, "expired");
    assert.match(request.error ?? "", new RegExp(`${a.id}.*disabled`));
    const approved = await post(
      t,
      `/api/admin/approvals/${asked.approval.id}/approve`,
      otpHeaders(t, b),
      { approval_hash: asked.approval.approval_hash },
    );
    assert.equal(approved.status, 409);
    assert.equal(approved.body.approval?.handover, undefined, "no code handed over");
    assert.equal(
      (await t.services.identity.allAdmins()).some((x) => x.email.startsWith("sleeper")),
      false,
    );
    const expired = (await auditEntries(t.kv)).find((e) =>
      e.action === "approval.expire" && e.target?.id === asked.approval.id
    );
    assert.ok(expired, "the expiry is audited");
    assert.match(expired.reason ?? "", /disabled/);
  });
});

Deno.test("attack: approving a request whose requester is disabled is refused at decision time too", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const asked = await requestOperator(t, a, "late@example.com");
    await disableQuietly(t, a.id);
    const approved = await post(
      t,
      `/api/admin/approvals/${asked.approval.id}/approve`,
      otpHeaders(t, b),
      { approval_hash: asked.approval.approval_hash },
    );
    assert.equal(approved.status, 409);
    assert.match(approved.body.detail, new RegExp(`${a.id}.*disabled`));
    const request = await t.services.approvals.get(asked.approval.id);
    assert.equal(request.status, "expired");
    assert.match(request.error ?? "", /disabled/);
    assert.equal(
      (await t.services.identity.allAdmins()).some((x) => x.email.startsWith("late")),
      false,
    );
    const audit = await auditEntries(t.kv);
    assert.ok(audit.some((e) => e.action === "approval.expire" && /disabled/.test(e.reason ?? "")));
  });
});

Deno.test("attack: a code a disabled admin issued (a viewer needing no second person) is refused", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const c = await createAdmin(t, "admin");
    // a third admin: no one disables the last admin besides themselves (README, "Accounts and enrollment")
    await createAdmin(t, "admin");
    const viewer = await post(t, "/api/admin/users", otpHeaders(t, a), {
      email: "viewer-1@example.com",
      role: "viewer",
    });
    assert.equal(viewer.status, 201);
    const other = await post(t, "/api/admin/users", otpHeaders(t, a), {
      email: "viewer-2@example.com",
      role: "viewer",
    });
    // refused at redemption when no sweep reached it
    await disableQuietly(t, a.id);
    const late = await post(t, "/api/admin/enroll", {}, { code: other.body.enrollment_code });
    assert.equal(late.status, 401, JSON.stringify(late.body));
    assert.equal(late.body.code, "enrollment_invalid");
    assert.match(late.body.detail, new RegExp(`${a.id}.*disabled`));
    // and swept with the disabling commit
    const entry = await t.kv.get<AdminRecord>(keys.admin(a.id));
    await t.kv.set(keys.admin(a.id), { ...entry.value!, status: "active" });
    await disableAdmin(t, c, a.id);
    const stored = [];
    for await (const e of t.kv.list<{ revoked_reason?: string }>({ prefix: ["enrollments"] })) {
      stored.push(e.value);
    }
    assert.equal(stored.filter((e) => /disabled/.test(e.revoked_reason ?? "")).length, 2);
    const swept = await post(t, "/api/admin/enroll", {}, { code: viewer.body.enrollment_code });
    assert.equal(swept.status, 401);
    assert.equal(swept.body.code, "enrollment_invalid");
  });
});

Deno.test("disabling an admin leaves other admins' requests and codes alone", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const c = await createAdmin(t, "admin");
    const viewer = await createAdmin(t, "viewer");
    const asked = await requestOperator(t, b, "kept@example.com");
    await disableAdmin(t, c, a.id);
    await disableAdmin(t, c, viewer.id);
    assert.equal((await t.services.approvals.get(asked.approval.id)).status, "pending");
    const approved = await post(
      t,
      `/api/admin/approvals/${asked.approval.id}/approve`,
      otpHeaders(t, c),
      { approval_hash: asked.approval.approval_hash },
    );
    assert.equal(approved.status, 200);
    assert.equal(approved.body.approval.status, "executed");
    const enrolled = await post(t, "/api/admin/enroll", {}, {
      code: approved.body.approval.handover.enrollment_code,
    });
    assert.equal(enrolled.status, 200);
  });
});

Deno.test("attack: one admin cannot re-enable a disabled admin alone; a second admin's approval hands over fresh credentials", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const x = await createAdmin(t, "operator");
    await disableAdmin(t, a, x.id);
    const res = await patchUser(t, a, x.id, { status: "active" });
    assert.equal(res.status, 202);
    const body = await res.json();
    assert.equal(body.admin.status, "disabled");
    const request = body.pending_approval;
    assert.equal(request.kind, "user.reactivate");
    assert.equal((await t.services.identity.getAdmin(x.id)).status, "disabled");
    // the old token does nothing yet; the requester, and the account itself, cannot approve
    const me = { headers: { authorization: `Bearer ${x.token}` } };
    assert.equal((await t.app.request("/api/admin/me", me)).status, 401);
    const self = await post(t, `/api/admin/approvals/${request.id}/approve`, otpHeaders(t, a));
    assert.equal(self.status, 403);
    // a second admin approves: the account is active with no working credential but the handover
    const ok = await post(t, `/api/admin/approvals/${request.id}/approve`, otpHeaders(t, b), {
      approval_hash: request.approval_hash,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.approval.status, "executed");
    const code = ok.body.approval.handover?.enrollment_code;
    assert.match(code ?? "", /^enr_/);
    assert.equal((await t.services.identity.getAdmin(x.id)).status, "active");
    const old = await t.app.request("/api/admin/me", me);
    assert.equal(old.status, 401, "the old token stays dead");
    await old.body?.cancel();
    const enrolled = await post(t, "/api/admin/enroll", {}, { code });
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.id, x.id);
    assert.match(enrolled.body.token, /^pot_/);
    assert.ok(enrolled.body.totp_secret, "a new second factor too");
    assert.notEqual(enrolled.body.totp_secret, x.totpSecret);
    const fresh = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${enrolled.body.token}` },
    });
    assert.equal(fresh.status, 200);
    await fresh.body?.cancel();
    const audit = await auditEntries(t.kv);
    assert.ok(audit.some((e) => e.action === "user.enable" && e.target?.id === x.id));
  });
});

Deno.test("re-enabling a role that cannot approve, nobody enrolled yet, stays its creator's change; the CLI re-enables directly", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const v = await accountMadeBy(t, a, "viewer");
    await disableAdmin(t, a, v.id);
    const res = await patchUser(t, a, v.id, { status: "active" });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).admin.status, "active");
    const x = await createAdmin(t, "admin");
    await createAdmin(t, "admin"); // not the last admin besides a
    await disableAdmin(t, a, x.id);
    const direct = await t.services.identity.updateAdmin(systemContext("cli"), x.id, {
      status: "active",
    });
    assert.equal(direct.admin.status, "active");
    assert.equal(direct.pending_approval, null);
    const enabled = (await auditEntries(t.kv)).filter((e) =>
      e.action === "user.enable" && e.target?.id === x.id
    );
    assert.match(enabled.at(-1)?.reason ?? "", /break-glass/);
  });
});

Deno.test("a disabled viewer re-enabled with a grant of operator is active as a viewer at once, the grant pending", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const v = await accountMadeBy(t, a, "viewer"); // not yet enrolled: a re-enables it alone
    const x = await createAdmin(t, "operator");
    await disableAdmin(t, a, v.id);
    await disableAdmin(t, a, x.id);
    const res = await patchUser(t, a, v.id, { role: "operator", status: "active" });
    assert.equal(res.status, 202);
    const body = await res.json();
    assert.equal(body.admin.status, "active");
    assert.equal(body.admin.role, "viewer");
    assert.equal(body.pending_approval.kind, "user.role_grant");
    // a disabled operator re-enabled and re-roled at once: asked separately
    const both = await patchUser(t, a, x.id, { role: "admin", status: "active" });
    assert.equal(both.status, 409);
    await both.body?.cancel();
  });
});
