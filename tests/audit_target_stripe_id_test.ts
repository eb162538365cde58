/**
 * The audit log's `target` filter takes a payment's Stripe id (README, "Audit
 * log"): entries about a payment name its `txn_…`, and an operator holding the
 * Stripe Dashboard's `pi_…` or `ch_…` finds them as with the `txn_…`, in the
 * list and the export alike; a refund's `re_…` finds its `rfd_…` entries. A
 * Stripe id the service does not know finds nothing.
 */
import assert from "node:assert/strict";
import { splitExport } from "./helpers/readme_export_check.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { authHeaders, otpHeaders } from "./helpers/identity.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import { addCreateDispute, getDispute } from "../kv/disputes.ts";

const LOG = "/api/admin/payments/audit-log";

Deno.test("the audit log's target filter finds a payment's entries by its pi_ or ch_ id", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId } = await w.pay(5000);
    const asked = await w.t.services.refunds.create(w.ctx(w.operator), {
      transaction_id: txnId,
      amount: 1200,
      reason: "requested_by_customer",
      note: "audit by Stripe id",
    });
    assert.equal(asked.refund.status, "succeeded");
    const seqsFor = async (target: string) => {
      const res = await w.t.app.request(`${LOG}?target=${target}&limit=100`, {
        headers: authHeaders(w.admin),
      });
      assert.equal(res.status, 200, target);
      return ((await res.json()).data as { seq: number }[]).map((e) => e.seq);
    };
    const byTxn = await seqsFor(txnId);
    assert.ok(byTxn.length > 0, "the settled refund is audited against the transaction");
    assert.deepEqual(await seqsFor(pi.id), byTxn);
    assert.deepEqual(await seqsFor(String(pi.latest_charge)), byTxn);
    assert.deepEqual(await seqsFor("pi_NotAPaymentOfOurs"), []);

    // the refund's own steps are under its rfd_: Stripe's re_ finds them as well
    const byRefund = await seqsFor(asked.refund.id);
    assert.ok(byRefund.length > 0, "refund.create is audited against the refund");
    assert.ok(asked.refund.stripe_refund, "Stripe's refund id is known");
    assert.deepEqual(await seqsFor(asked.refund.stripe_refund!), byRefund);
    assert.deepEqual(await seqsFor("re_NotARefundOfOurs"), []);
    assert.deepEqual(await seqsFor("du_NotADisputeOfOurs"), []);

    const exported = await w.t.app.request(`${LOG}/export?format=jsonl&target=${pi.id}`, {
      headers: otpHeaders(w.t, w.admin),
    });
    assert.equal(exported.status, 200);
    const lines = splitExport(await exported.text()).entries.map((e) => e.seq);
    assert.deepEqual(lines.sort((a, b) => a - b), [...byTxn].sort((a, b) => a - b));
  });
});

Deno.test("the audit log's target filter finds a dispute's entries by Stripe's du_ id", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const noted = await call(w, w.operator, "POST", `/disputes/${dispute.id}/notes`, {
      text: "called the cardholder's bank",
    });
    assert.equal(noted.status, 201);
    const seqsFor = async (target: string) => {
      const res = await w.t.app.request(`${LOG}?target=${target}&limit=100`, {
        headers: authHeaders(w.admin),
      });
      assert.equal(res.status, 200, target);
      return ((await res.json()).data as { seq: number }[]).map((e) => e.seq);
    };
    const byDispute = await seqsFor(dispute.id);
    assert.ok(byDispute.length > 0, "the note is audited against the dispute");
    assert.deepEqual(await seqsFor(dispute.stripe_dispute), byDispute);
  });
});

Deno.test("the audit log's target filter finds a dispute's entries by a dp_ id as by du_", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    // Stripe names some disputes dp_…: the same record under such an id, as ingest keeps it
    const record = (await getDispute(w.t.kv, dispute.id)).value!;
    const copy = { ...record, id: w.t.services.newId("dsp"), stripe_dispute: "dp_1QxYzAbC" };
    const op = w.t.kv.atomic();
    addCreateDispute(op, copy);
    assert.ok((await op.commit()).ok);
    const noted = await call(w, w.operator, "POST", `/disputes/${copy.id}/notes`, {
      text: "a dispute Stripe names dp_",
    });
    assert.equal(noted.status, 201);
    const seqsFor = async (target: string) => {
      const res = await w.t.app.request(`${LOG}?target=${target}&limit=100`, {
        headers: authHeaders(w.admin),
      });
      assert.equal(res.status, 200, target);
      return ((await res.json()).data as { seq: number }[]).map((e) => e.seq);
    };
    const byDispute = await seqsFor(copy.id);
    assert.ok(byDispute.length > 0, "the note is audited against the dispute");
    assert.deepEqual(await seqsFor("dp_1QxYzAbC"), byDispute);
  });
});
