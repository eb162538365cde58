/**
 * Nobody who could not approve a refund may reject it (README, "Two-person
 * rules"): neither its requester nor an account linked to them (one the
 * requester asked for). Each is refused on the refund's own route and on the
 * approvals queue's, `403 self_approval_forbidden` with its `rule`, audited
 * `denied` on the refund, nothing written to the refund (still awaiting
 * approval, its money reserved); an unlinked operator still rejects it.
 * Unlike the queue's other kinds, a refund is not withdrawn by its requester:
 * someone else decides it, or it expires unanswered at its `expires_at`.
 */
import assert from "node:assert/strict";
import { type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import {
  approvedAccount,
  auditEntries,
  createAdmin,
  jsonRequest,
  otpHeaders,
  stepUpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";
import { getRefund } from "../kv/refunds.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };
const ROUTES = ["refunds", "approvals"] as const;
type Route = typeof ROUTES[number];

const pathOf = (route: Route, id: string, decision: "approve" | "reject") =>
  route === "refunds"
    ? `/api/admin/payments/refunds/${id}/${decision}`
    : `/api/admin/approvals/${id}/${decision}`;

async function send(w: RefundWorld, by: TestAdmin, path: string, body: unknown) {
  const res = await w.t.app.request(path, jsonRequest("POST", otpHeaders(w.t, by), body));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * Admin `a` asks for operator `linked` (admin `b` approves it, `linked` enrolls with the code b
 * handed over: a real operator, linked to `a`), then asks for a refund that needs approval.
 */
async function linkedWorld(w: RefundWorld) {
  const a = w.admin;
  const b = await createAdmin(w.t, "admin");
  const linked = await approvedAccount(w.t, a, b, "operator");
  const pay = await w.pay(20000);
  const asked = await askAs(w, a, pay.txnId, 6000);
  return { a, b, linked, pay, refund: asked };
}

async function askAs(w: RefundWorld, by: TestAdmin, txnId: string, amount: number) {
  const res = await w.t.app.request(
    "/api/admin/payments/refunds",
    jsonRequest("POST", await stepUpHeaders(w.t, by), {
      transaction_id: txnId,
      amount,
      reason: "requested_by_customer",
      note: "asked",
    }),
  );
  const body = await res.json();
  assert.equal(res.status, 202, JSON.stringify(body));
  return body as { id: string; approval: { hash: string } };
}

/** The refund's record is as it was (its versionstamp), and its money still reserved. */
async function untouched(w: RefundWorld, id: string, versionstamp: string | null, txnId: string) {
  const entry = await getRefund(w.t.kv, id);
  assert.equal(entry.value?.status, "awaiting_approval");
  assert.equal(entry.value?.rejected_by ?? null, null);
  assert.equal(entry.versionstamp, versionstamp, "nothing was written to the refund");
  assert.equal((await w.t.services.transactions.get(txnId)).amount_reserved, 6000);
}

const deniedRejects = async (w: RefundWorld, id: string, by: string) =>
  (await auditEntries(w.t.kv)).filter((e) =>
    e.action === "refund.reject" && e.result === "denied" && e.target?.id === id &&
    e.actor.id === by
  );

for (const route of ROUTES) {
  Deno.test(`attack: an account the requester asked for cannot reject (veto) their refund through /${route}; 403, audited denied, refund untouched`, async () => {
    await withRefundWorld(async (w) => {
      const { linked, pay, refund } = await linkedWorld(w);
      const before = (await getRefund(w.t.kv, refund.id)).versionstamp;

      // approving is refused, as it always was
      const approve = await send(w, linked, pathOf(route, refund.id, "approve"), {
        approval_hash: refund.approval.hash,
      });
      assert.equal(approve.status, 403, JSON.stringify(approve.body));
      assert.equal(approve.body.rule, "linked_account");

      // and so is rejecting: the same rule, the same problem
      const veto = await send(w, linked, pathOf(route, refund.id, "reject"), { note: "no" });
      assert.equal(veto.status, 403, JSON.stringify(veto.body));
      assert.equal(veto.body.code, "self_approval_forbidden");
      assert.equal(veto.body.rule, "linked_account");
      await untouched(w, refund.id, before, pay.txnId);
      const denied = await deniedRejects(w, refund.id, linked.id);
      assert.equal(denied.length, 1);
      assert.match(denied[0].reason ?? "", /linked account/);
      const ok = (await auditEntries(w.t.kv)).filter((e) =>
        e.action === "refund.reject" && e.result === "ok"
      );
      assert.equal(ok.length, 0);

      // an operator not linked to the requester rejects it
      const rejected = await send(w, w.operator2, pathOf(route, refund.id, "reject"), {
        note: "not eligible",
      });
      assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
      const after = await w.t.services.refunds.get(refund.id);
      assert.equal(after.status, "rejected");
      assert.equal(after.rejected_by, w.operator2.id);
    }, { env: ENV });
  });

  Deno.test(`attack: the requester cannot reject (withdraw) their own refund through /${route}; 403, audited denied, refund untouched`, async () => {
    await withRefundWorld(async (w) => {
      const { a, pay, refund } = await linkedWorld(w);
      const before = await getRefund(w.t.kv, refund.id);
      const own = await send(w, a, pathOf(route, refund.id, "reject"), {
        note: "asked by mistake",
      });
      assert.equal(own.status, 403, JSON.stringify(own.body));
      assert.equal(own.body.code, "self_approval_forbidden");
      assert.equal(own.body.rule, "self_approval_forbidden");
      // it names the refund, who decides it, and when it expires unanswered
      assert.match(own.body.detail, new RegExp(refund.id));
      assert.match(own.body.detail, /different operator or admin/);
      assert.match(
        own.body.detail,
        new RegExp(`expires unanswered at ${before.value!.expires_at}`),
      );
      await untouched(w, refund.id, before.versionstamp, pay.txnId);
      const denied = await deniedRejects(w, refund.id, a.id);
      assert.equal(denied.length, 1);
      assert.match(denied[0].reason ?? "", /self-rejection/);
      const ok = (await auditEntries(w.t.kv)).filter((e) =>
        e.action === "refund.reject" && e.result === "ok"
      );
      assert.equal(ok.length, 0);

      // someone else still decides it
      const rejected = await send(w, w.operator2, pathOf(route, refund.id, "reject"), {
        note: "not eligible",
      });
      assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
      assert.equal((await w.t.services.refunds.get(refund.id)).rejected_by, w.operator2.id);
      assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
    }, { env: ENV });
  });
}

Deno.test("attack: a burst of parallel rejects by the requester on both routes: all 403, the refund untouched; it expires unanswered at its deadline", async () => {
  await withRefundWorld(async (w) => {
    const { a, pay, refund } = await linkedWorld(w);
    const before = (await getRefund(w.t.kv, refund.id)).versionstamp;
    const burst = await Promise.all(
      Array.from(
        { length: 12 },
        (_, i) => send(w, a, pathOf(ROUTES[i % 2], refund.id, "reject"), { note: `drop ${i}` }),
      ),
    );
    for (const r of burst) {
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body.code, "self_approval_forbidden");
    }
    await untouched(w, refund.id, before, pay.txnId);
    assert.equal((await deniedRejects(w, refund.id, a.id)).length, 12);

    // nobody decided it: past its deadline the expiry job ends it, its reservation released
    w.clock.advance(24 * 3600_000 + 1);
    await w.runJobs();
    const after = await w.t.services.refunds.get(refund.id);
    assert.equal(after.status, "expired");
    assert.equal(after.rejected_by, null);
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
  }, { env: ENV });
});

Deno.test("attack: a burst of parallel rejects by the linked account on both routes: all 403, the refund untouched; then an unlinked admin rejects it", async () => {
  await withRefundWorld(async (w) => {
    const { b, linked, pay, refund } = await linkedWorld(w);
    const before = (await getRefund(w.t.kv, refund.id)).versionstamp;
    const burst = await Promise.all(
      Array.from(
        { length: 12 },
        (_, i) =>
          send(w, linked, pathOf(ROUTES[i % 2], refund.id, "reject"), { note: `veto ${i}` }),
      ),
    );
    for (const r of burst) {
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body.code, "self_approval_forbidden");
    }
    await untouched(w, refund.id, before, pay.txnId);
    assert.equal((await deniedRejects(w, refund.id, linked.id)).length, 12);

    // b approved the linked account, so b is linked to it, not to the requester
    const rejected = await send(w, b, pathOf("refunds", refund.id, "reject"), { note: "no" });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.equal(rejected.body.status, "rejected");
    assert.equal(rejected.body.rejected_by, b.id);
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
  }, { env: ENV });
});
