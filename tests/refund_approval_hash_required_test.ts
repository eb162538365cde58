/**
 * An approver approves exactly the refund they read, by its `approval.hash` (README, "A first
 * session" and "Two-person rules"): an approve without `approval_hash` ({} or no body at all) is
 * `422 validation_failed` on `body.approval_hash`, on the refund's own route and through the
 * approvals queue alike, before the second factor is spent. It decides nothing: the refund still
 * awaits approval, nothing reaches Stripe, no audit entry is written (README, "Refund approval
 * policy": a malformed body leaves no entry).
 */
import assert from "node:assert/strict";
import {
  approvalOf,
  askRefund,
  statusOf,
  stripeRefunds,
  withRefundWorld,
} from "./helpers/refunds.ts";
import { auditEntries, authHeaders, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import type { AppError } from "../core/errors.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };

type Problem = { code: string; detail: string; errors?: { path: string; message: string }[] };

/** An AppError as the problem it answers (`detail` is its message). */
function problemOf(e: AppError | null): Problem {
  return { code: e?.code ?? "none", detail: e?.message ?? "", errors: e?.errors };
}

function assertHashRequired(status: number | undefined, problem: Problem, what: string) {
  assert.equal(status, 422, `${what}: ${JSON.stringify(problem)}`);
  assert.equal(problem.code, "validation_failed", what);
  const field = problem.errors?.find((e) => e.path === "body.approval_hash");
  assert.ok(field, `${what} names body.approval_hash: ${JSON.stringify(problem)}`);
  // what it is and where to get it
  assert.match(field.message, /approval_hash is required/, what);
  assert.match(field.message, /approval\.hash/, what);
  assert.match(field.message, /GET \/api\/admin\/payments\/refunds\/\S+/, what);
}

Deno.test("approving a refund without approval_hash ({} or no body) is 422 on body.approval_hash and decides nothing", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const asked = await askRefund(w, pay.txnId, 6000, "goodwill");
    assert.equal(statusOf(asked), 202);
    const id = asked.refund.id;
    const otp = otpHeaders(w.t, w.operator2);
    const attempts: [string, string, { method: string; headers: Record<string, string> }][] = [
      [
        "refund route, {}",
        `/api/admin/payments/refunds/${id}/approve`,
        jsonRequest("POST", otp, {}),
      ],
      ["refund route, a note only", `/api/admin/payments/refunds/${id}/approve`, {
        ...jsonRequest("POST", otp, { note: "looks fine" }),
      }],
      ["refund route, no body", `/api/admin/payments/refunds/${id}/approve`, {
        method: "POST",
        headers: otp,
      }],
      ["refund route, an empty JSON body", `/api/admin/payments/refunds/${id}/approve`, {
        method: "POST",
        headers: { ...otp, "content-type": "application/json", "content-length": "0" },
      }],
      ["queue, {}", `/api/admin/approvals/${id}/approve`, jsonRequest("POST", otp, {})],
      ["queue, no body", `/api/admin/approvals/${id}/approve`, { method: "POST", headers: otp }],
      ["queue, an empty JSON body", `/api/admin/approvals/${id}/approve`, {
        method: "POST",
        headers: { ...otp, "content-type": "application/json", "content-length": "0" },
      }],
    ];
    for (const [what, path, init] of attempts) {
      const res = await w.t.app.request(path, init);
      assertHashRequired(res.status, await res.json(), what);
    }
    // nothing decided, nothing sent, nothing audited
    assert.equal((await w.t.services.refunds.get(id)).status, "awaiting_approval");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    const decisions = (await auditEntries(w.t.kv)).filter((e) =>
      e.action === "refund.approve" || e.action.startsWith("approval.")
    );
    assert.deepEqual(decisions, []);
    // refused before the second factor was spent: the same code approves with the hash
    const ok = await w.t.app.request(
      `/api/admin/payments/refunds/${id}/approve`,
      jsonRequest("POST", otp, { approval_hash: asked.refund.approval.hash }),
    );
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal((await ok.json()).status, "succeeded");
  }, { env: ENV });
});

Deno.test("the refund service refuses an approval without approval_hash, whoever calls it", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const asked = await askRefund(w, pay.txnId, 6000, "goodwill");
    const id = asked.refund.id;
    for (const body of [undefined, {}, { note: "fine" }, { approval_hash: "" }]) {
      const e = await w.t.services.refunds.approve(w.ctx(w.operator2), id, body).then(
        () => null,
        (e) => e,
      );
      assertHashRequired(e?.status, problemOf(e), JSON.stringify(body));
      const queued = await w.t.services.approvals.approve(w.ctx(w.operator2), id, body ?? {})
        .then(() => null, (e) => e);
      assertHashRequired(queued?.status, problemOf(queued), `queue ${JSON.stringify(body)}`);
    }
    assert.equal((await w.t.services.refunds.get(id)).status, "awaiting_approval");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    assert.deepEqual(
      (await auditEntries(w.t.kv)).filter((e) => e.action === "refund.approve"),
      [],
    );
    // read, then approved by what was read (the tests' helper does the same)
    const done = await w.t.services.refunds.approve(
      w.ctx(w.operator2),
      id,
      await approvalOf(w.t, id),
    );
    assert.equal(done.refund.status, "succeeded");
  }, { env: ENV });
});

Deno.test("an approve of a refund without approval_hash with no second factor still asks for the hash first", async () => {
  // the route's own validation comes before the second factor (README, "Inputs and headers")
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const asked = await askRefund(w, pay.txnId, 6000, "goodwill");
    const res = await w.t.app.request(
      `/api/admin/payments/refunds/${asked.refund.id}/approve`,
      jsonRequest("POST", authHeaders(w.operator2), {}),
    );
    assertHashRequired(res.status, await res.json(), "no code");
  }, { env: ENV });
});
