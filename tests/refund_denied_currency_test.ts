/**
 * A refused refund request is audited `denied` with its amount AND the
 * payment's currency (README, "Refund approval policy": each refusal that is a
 * decision about money is an audit entry; an amount in minor units without a
 * currency cannot be read), whichever refusal it was and whichever of the
 * payment's ids (`txn_…`, `pi_…`, `ch_…`) the request named.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { authorizeAtStripe, type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import { auditEntries } from "./helpers/identity.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";

type Denied = AuditEntry & { after: Record<string, unknown> };

async function denied(w: RefundWorld, since: number): Promise<Denied[]> {
  const all = (await auditEntries(w.t.kv)).slice(since);
  return all.filter((e) => e.result === "denied") as Denied[];
}

async function jpyPayment(w: RefundWorld, amount: number) {
  const pi = await w.stripe.paymentIntents.create({
    amount,
    currency: "jpy",
    payment_method: "pm_card_visa",
    confirm: true,
  });
  await w.deliver();
  const txn = await w.t.services.transactions.get(pi.id);
  return { pi, txn };
}

const ask = (transaction_id: string, amount = 100) => ({
  transaction_id,
  amount,
  reason: "requested_by_customer" as const,
  note: "goodwill",
});

Deno.test("a suspected duplicate named by txn_ or ch_ is audited with the payment's currency", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txn } = await jpyPayment(w, 5000);
    const first = await call(w, w.operator, "POST", "/refunds", ask(pi.id), true);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const since = (await auditEntries(w.t.kv)).length;
    for (const id of [txn.id, pi.latest_charge as string]) {
      const again = await call(w, w.operator, "POST", "/refunds", ask(id), true);
      assert.equal(again.status, 409, JSON.stringify(again.body));
      assert.equal(again.body.code, "duplicate_suspected");
    }
    const entries = await denied(w, since);
    assert.equal(entries.length, 2);
    for (const e of entries) {
      assert.equal(e.action, "refund.create");
      assert.equal(e.after.code, "duplicate_suspected");
      assert.equal(e.after.amount, 100);
      assert.equal(e.after.currency, "jpy", JSON.stringify(e.after));
    }
  });
});

Deno.test("open dispute, uncaptured and failed payments: the denied entry names the currency", async () => {
  await withRefundWorld(async (w) => {
    const { txnId: disputed } = await disputedPayment(w);
    const auth = await authorizeAtStripe(w.stripe, 4000, "hold@example.com");
    await w.deliver();
    const held = await w.t.services.transactions.get(auth.pi.id);
    const declined = await w.stripe.paymentIntents.create({
      amount: 1500,
      currency: "jpy",
      payment_method: "pm_card_chargeDeclined",
      confirm: true,
    }).catch((e: Stripe.errors.StripeCardError) => e.payment_intent!);
    await w.deliver();
    const failed = await w.t.services.transactions.get(declined.id);
    assert.equal(failed.status, "failed");
    const since = (await auditEntries(w.t.kv)).length;
    const cases: [string, string, string][] = [
      [disputed, "charge_not_refundable", "usd"],
      [held.id, "conflict", "usd"],
      [failed.id, "conflict", "jpy"],
    ];
    for (const [id, code] of cases) {
      const r = await call(w, w.operator, "POST", "/refunds", ask(id), true);
      assert.equal(r.body?.code, code, JSON.stringify(r.body));
    }
    const entries = await denied(w, since);
    assert.deepEqual(
      entries.map((e) => [e.target?.id, e.after.code, e.after.amount, e.after.currency]),
      cases.map(([id, code, currency]) => [id, code, 100, currency]),
    );
  });
});

Deno.test("an Idempotency-Key reused: the currency of the payment named, else of the first request's", async () => {
  await withRefundWorld(async (w) => {
    const { txn } = await jpyPayment(w, 5000);
    const first = await w.t.services.refunds.create(w.ctx(w.operator, "key-1"), ask(txn.id));
    assert.equal(first.refund.currency, "jpy");
    const since = (await auditEntries(w.t.kv)).length;
    const refused = (input: ReturnType<typeof ask>) =>
      w.t.services.refunds.create(w.ctx(w.operator, "key-1"), input).then(
        () => assert.fail("the reused key was taken"),
        (e) => assert.equal(e.code, "idempotency_key_reused"),
      );
    // the body names the same payment with another amount
    await refused(ask(txn.id, 200));
    // the body names a payment this service does not know: the first request's payment
    await refused(ask("txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R"));
    const entries = await denied(w, since);
    assert.deepEqual(
      entries.map((e) => [e.after.code, e.after.amount, e.after.currency]),
      [["idempotency_key_reused", 200, "jpy"], ["idempotency_key_reused", 100, "jpy"]],
    );
  });
});
