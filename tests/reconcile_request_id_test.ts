/**
 * Refunds' and disputes' settle entries name Stripe's request id of the call
 * that decided them, as retries' do (README "Retrying failed payments"):
 * reconciliation's send again under the same key, its look-up (the refunds
 * list, the dispute read) past the key's window, or Stripe's refusal.
 */
import assert from "node:assert/strict";
import { reconcileRefunds } from "../services/refunds/service.ts";
import { auditEntries } from "./helpers/identity.ts";
import { type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, runDisputeJobs, submitAs } from "./helpers/disputes.ts";
import { onlyStripeRequestId } from "./helpers/stripe_call_ids.ts";

const HOUR = 3600_000;
const EVIDENCE = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };

async function entryOf(w: RefundWorld, action: string, target: string) {
  const found = (await auditEntries(w.t.kv)).filter((e) =>
    e.action === action && e.target?.id === target
  );
  assert.equal(found.length, 1, `one ${action} of ${target}: ${found.length}`);
  return found[0];
}

function askRefund(w: RefundWorld, txnId: string) {
  return w.t.services.refunds.create(w.ctx(w.operator), {
    transaction_id: txnId,
    amount: 1000,
    reason: "requested_by_customer",
    note: "customer asked",
    confirm_duplicate: true,
  });
}

for (
  const [name, fault, after, label, action] of [
    ["sent again with its key", "act_then_drop", 61_000, "refunds.create", "refund.settle"],
    [
      "found by the list past the key's window",
      "act_then_drop",
      25 * HOUR,
      "refunds.list",
      "refund.settle",
    ],
    ["not found past the key's window", "server_error", 25 * HOUR, "refunds.list", "refund.failed"],
  ] as const
) {
  Deno.test(`a refund reconciled (${name}): ${action} names the request id of ${label}`, async () => {
    await withRefundWorld(async (w) => {
      const pay = await w.pay(3000);
      w.emu.faults.inject({ kind: fault, method: "POST", path: "/v1/refunds", times: 1 });
      const res = await askRefund(w, pay.txnId);
      assert.equal(res.refund.status, "processing");
      await w.dropHeld(); // no webhook: reconciliation decides
      w.clock.advance(after);
      w.t.logs.length = 0;
      await reconcileRefunds(w.t.services);
      const entry = await entryOf(w, action, res.refund.id);
      assert.equal(entry.stripe_request_id, onlyStripeRequestId(w.t.logs, label));
    });
  });
}

const SUBMIT = "disputes.update(submit=true)";

for (
  const [name, fault, after, label, action] of [
    ["sent again with its key", "act_then_drop", 61_000, SUBMIT, "dispute.submission_settled"],
    [
      "read past the key's window",
      "act_then_drop",
      24 * HOUR,
      "disputes.retrieve",
      "dispute.submission_settled",
    ],
    [
      "not received, read past the window",
      "server_error",
      24 * HOUR,
      "disputes.retrieve",
      "dispute.submit_failed",
    ],
  ] as const
) {
  Deno.test(`a dispute submission reconciled (${name}): ${action} names the request id of ${label}`, async () => {
    await withRefundWorld(async (w) => {
      const { dispute } = await disputedPayment(w);
      await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
      await w.deliver();
      w.emu.faults.inject({
        kind: fault,
        method: "POST",
        path: `/v1/disputes/${dispute.stripe_dispute}`,
        times: fault === "server_error" ? Infinity : 1,
      });
      const sent = await submitAs(w, w.operator, dispute.id);
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      w.emu.faults.clear();
      await w.dropHeld();
      w.clock.advance(after);
      w.t.logs.length = 0;
      await runDisputeJobs(w);
      const entry = await entryOf(w, action, dispute.id);
      assert.equal(entry.stripe_request_id, onlyStripeRequestId(w.t.logs, label));
    });
  });
}

for (
  const [name, fault, after, label, action] of [
    [
      "sent again with its key",
      "act_then_drop",
      61_000,
      "disputes.close",
      "dispute.accept_settled",
    ],
    [
      "not received, read past the window",
      "server_error",
      24 * HOUR,
      "disputes.retrieve",
      "dispute.accept_failed",
    ],
  ] as const
) {
  Deno.test(`a dispute close reconciled (${name}): ${action} names the request id of ${label}`, async () => {
    await withRefundWorld(async (w) => {
      const { dispute } = await disputedPayment(w);
      await w.deliver();
      w.emu.faults.inject({
        kind: fault,
        method: "POST",
        path: `/v1/disputes/${dispute.stripe_dispute}/close`,
        times: fault === "server_error" ? Infinity : 1,
      });
      const path = `/disputes/${dispute.id}/accept`;
      const sent = await call(w, w.operator, "POST", path, { note: "not worth it" }, true);
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      w.emu.faults.clear();
      await w.dropHeld();
      w.clock.advance(after);
      w.t.logs.length = 0;
      await runDisputeJobs(w);
      const entry = await entryOf(w, action, dispute.id);
      assert.equal(entry.stripe_request_id, onlyStripeRequestId(w.t.logs, label));
    });
  });
}

Deno.test("a dispute close Stripe refuses: dispute.accept_failed names the refusal's request id", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    // closed at Stripe behind the app's back, webhooks lost: Stripe refuses a second close
    await w.stripe.disputes.close(dispute.stripe_dispute);
    await w.dropHeld();
    w.t.logs.length = 0;
    const path = `/disputes/${dispute.id}/accept`;
    const refused = await call(w, w.operator, "POST", path, { note: "too late" }, true);
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    const entry = await entryOf(w, "dispute.accept_failed", dispute.id);
    assert.equal(entry.stripe_request_id, onlyStripeRequestId(w.t.logs, "disputes.close"));
  });
});
