/** The one approvals queue: who may approve, audited denials, one execution under a burst. */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import {
  adminContext,
  auditEntries,
  authHeaders,
  createAdmin,
  jsonRequest,
  otpHeaders,
  stepUpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";
import type { CallContext } from "../domain/actor.ts";
import type { ApprovalRequest } from "../domain/approval.ts";
import type { Role } from "../domain/permissions.ts";
import { addAdminLink } from "../kv/approvals.ts";

const ctxOf = adminContext;

/** An account created by `creator` through the service (so the two are linked). */
async function createdBy(t: TestApp, creator: TestAdmin, role: Role): Promise<TestAdmin> {
  const email = `linked-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const c = await t.services.identity.createAdmin(ctxOf(creator), { email, role });
  assert.equal(c.admin.role, role === "admin" ? "viewer" : role);
  return {
    id: c.admin.id,
    email,
    role: c.admin.role,
    token: c.token,
    totpSecret: c.totp_secret,
    otpauthUri: c.otpauth_uri,
    recoveryCodes: c.recovery_codes,
    lastOtpStep: null,
  };
}

/** Registers `fraud.rule_disable` with an executor that counts its runs. */
function countingKind(t: TestApp): { runs: number } {
  const counter = { runs: 0 };
  t.services.approvals.register("fraud.rule_disable", {
    execute: async (_deps, request) => {
      await Promise.resolve();
      counter.runs++;
      return { rule: request.payload.rule, enabled: false };
    },
  });
  return counter;
}

async function ask(t: TestApp, by: TestAdmin): Promise<ApprovalRequest> {
  return await t.services.approvals.request(
    "fraud.rule_disable",
    { rule: "velocity", enabled: false },
    ctxOf(by),
    { summary: "disable rule velocity", target: { type: "fraud_rule", id: "velocity" } },
  );
}

function approveReq(headers: Record<string, string>, body?: unknown) {
  return jsonRequest("POST", headers, body);
}

Deno.test("approvals: a second admin approves through the queue and the action runs once", async () => {
  await withTestApp(async (t) => {
    const counter = countingKind(t);
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const req = await ask(t, a);
    assert.equal(req.status, "pending");
    assert.match(req.id, /^apr_/);

    const listed = await t.app.request("/api/admin/approvals", { headers: authHeaders(b) });
    assert.equal(listed.status, 200);
    const page = await listed.json() as { data: ApprovalRequest[] };
    assert.deepEqual(page.data.map((r) => r.id), [req.id]);

    const res = await t.app.request(
      `/api/admin/approvals/${req.id}/approve`,
      approveReq(otpHeaders(t, b), { approval_hash: req.approval_hash }),
    );
    assert.equal(res.status, 200);
    const body = await res.json() as { approval: ApprovalRequest; replayed: boolean };
    assert.equal(body.approval.status, "executed");
    assert.equal(body.approval.decided_by, b.id);
    assert.deepEqual(body.approval.result, { rule: "velocity", enabled: false });
    assert.equal(counter.runs, 1);

    // the second click answers the same decision and runs nothing
    const again = await t.app.request(
      `/api/admin/approvals/${req.id}/approve`,
      approveReq(otpHeaders(t, b), {}),
    );
    assert.equal(again.status, 200);
    assert.equal((await again.json() as { replayed: boolean }).replayed, true);
    assert.equal(counter.runs, 1);
    const actions = (await auditEntries(t.kv)).map((e) => `${e.action}:${e.result}`);
    assert.deepEqual(actions.filter((a) => a.startsWith("approval.")), [
      "approval.request:ok",
      "approval.approve:ok",
      "approval.execute:ok",
    ]);
  });
});

Deno.test("approvals: a burst of approvals from several admins executes once", async () => {
  await withTestApp(async (t) => {
    const counter = countingKind(t);
    const a = await createAdmin(t, "admin");
    const approvers = await Promise.all([1, 2, 3, 4].map(() => createAdmin(t, "admin")));
    const req = await ask(t, a);
    const results = await Promise.allSettled(
      approvers.flatMap((b) =>
        [1, 2, 3].map(() => t.services.approvals.approve(ctxOf(b), req.id, {}))
      ),
    );
    assert.equal(counter.runs, 1);
    const final = await t.services.approvals.get(req.id);
    assert.equal(final.status, "executed");
    const ok = results.filter((r) => r.status === "fulfilled");
    // only the winner's approvals answer; the others are conflicts
    for (const r of ok) {
      assert.equal(
        (r as PromiseFulfilledResult<{ request: ApprovalRequest }>).value.request
          ?.decided_by,
        final.decided_by,
      );
    }
    const approvedEntries = (await auditEntries(t.kv)).filter((e) =>
      e.action === "approval.approve" && e.result === "ok"
    );
    assert.equal(approvedEntries.length, 1);
  });
});

Deno.test("approvals: the requester, the target and linked accounts are refused, each audited", async () => {
  await withTestApp(async (t) => {
    const counter = countingKind(t);
    const a = await createAdmin(t, "admin");
    const req = await ask(t, a);

    // the requester
    const self = await t.app.request(
      `/api/admin/approvals/${req.id}/approve`,
      approveReq(otpHeaders(t, a), {}),
    );
    assert.equal(self.status, 403);
    assert.equal((await self.json()).code, "self_approval_forbidden");

    // an account the requester created (linked one way) ...
    const child = await createdBy(t, a, "operator");
    const asAdmin = (x: TestAdmin): CallContext => ({
      ...ctxOf(x),
      actor: { type: "admin", id: x.id, role: "admin" },
    });
    const fromChild = await t.services.approvals.approve(asAdmin(child), req.id, {})
      .then(() => null, (e) => e);
    assert.equal(fromChild?.code, "self_approval_forbidden");
    assert.equal(fromChild?.extra?.rule, "linked_account");
    // ... and the account that created the requester (the other way)
    const parent = await createAdmin(t, "admin");
    const byParent = await createdBy(t, parent, "operator");
    const req2 = await ask(t, byParent);
    const fromParent = await t.services.approvals.approve(ctxOf(parent), req2.id, {})
      .then(() => null, (e) => e);
    assert.equal(fromParent?.code, "self_approval_forbidden");
    assert.equal(fromParent?.extra?.rule, "linked_account");
    // a role that lacks the kind's permission
    const op = await createAdmin(t, "operator");
    const fromOperator = await t.services.approvals.approve(ctxOf(op), req.id, {})
      .then(() => null, (e) => e);
    assert.equal(fromOperator?.code, "forbidden");

    // a wrong approval_hash (the request unchanged) is refused on its field, and audited; the
    // refusal never names the request's hash (the approver approves what they read: README,
    // "Two-person rules"), it says to read the request again
    const b = await createAdmin(t, "admin");
    const stale = await t.app.request(
      `/api/admin/approvals/${req.id}/approve`,
      approveReq(otpHeaders(t, b), { approval_hash: "0".repeat(64) }),
    );
    assert.equal(stale.status, 409);
    const text = await stale.text();
    assert.ok(!text.includes(req.approval_hash), `the refusal names the hash: ${text}`);
    const problem = JSON.parse(text);
    assert.deepEqual(problem.errors?.map((e: { path: string }) => e.path), ["body.approval_hash"]);
    assert.ok(!("approval_hash" in problem), text);
    assert.match(problem.detail, /which is unchanged/);
    assert.match(problem.detail, new RegExp(`read it again \\(GET /api/admin/approvals/${req.id}`));
    assert.equal(counter.runs, 0);
    assert.equal((await t.services.approvals.get(req.id)).status, "pending");

    const denials = (await auditEntries(t.kv)).filter((e) =>
      e.action === "approval.approve" && e.result === "denied"
    );
    assert.deepEqual(denials.map((e) => e.actor.id), [a.id, child.id, parent.id, op.id, b.id]);
    assert.match(denials[4].reason ?? "", /wrong approval_hash: not the request's hash/);
  });
});

Deno.test("approvals: an approve with no body, and a reject by the requester, are accepted", async () => {
  await withTestApp(async (t) => {
    countingKind(t);
    const a = await createAdmin(t, "admin");
    const req = await ask(t, a);
    const res = await t.app.request(`/api/admin/approvals/${req.id}/reject`, {
      method: "POST",
      headers: authHeaders(a),
    });
    assert.equal(res.status, 200);
    const body = await res.json() as { approval: ApprovalRequest };
    assert.equal(body.approval.status, "rejected");
    // an operator cannot close an admin-only request of someone else
    const req2 = await ask(t, a);
    const op = await createAdmin(t, "operator");
    const refused = await t.app.request(`/api/admin/approvals/${req2.id}/reject`, {
      method: "POST",
      headers: authHeaders(op),
    });
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
    assert.equal((await t.services.approvals.get(req2.id)).status, "pending");
    const b = await createAdmin(t, "admin");
    const late = await t.app.request(`/api/admin/approvals/${req.id}/approve`, {
      method: "POST",
      headers: await stepUpHeaders(t, b),
    });
    assert.equal(late.status, 409);
    // the problem document's `status` is the HTTP status; the request's own is beside it
    const problem = await late.json();
    assert.equal(problem.status, 409);
    assert.equal(problem.request_status, "rejected");
  });
});

Deno.test("approvals: a link is found however many links the approver has", async () => {
  await withTestApp(async (t) => {
    countingKind(t);
    const approver = await createAdmin(t, "admin");
    const requester = await createAdmin(t, "admin");
    // 1,200 links of the approver's that sort before the requester's, then theirs, both ways
    // (as links are written): a listing that stops at 1,000 rows would not reach it
    const link = { why: "approved", at: new Date().toISOString() };
    for (let start = 0; start < 1200; start += 400) {
      const op = t.kv.atomic();
      for (let i = start; i < start + 400; i++) {
        addAdminLink(op, approver.id, `adm_00${String(i).padStart(24, "0")}`, link);
      }
      assert.ok((await op.commit()).ok);
    }
    const op = t.kv.atomic();
    addAdminLink(op, approver.id, requester.id, link);
    assert.ok((await op.commit()).ok);
    const req = await ask(t, requester);
    const refused = await t.services.approvals.approve(ctxOf(approver), req.id, {})
      .then(() => null, (e) => e);
    assert.equal(refused?.code, "self_approval_forbidden");
    assert.equal(refused?.extra?.rule, "linked_account");
  });
});
