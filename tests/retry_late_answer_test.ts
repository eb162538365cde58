/**
 * A confirm whose answer Stripe holds past the reconcile point: the attempt is
 * never closed as "nothing charged" while the confirm may still act. The
 * reconciliation sends the same confirm again with the same idempotency key
 * (a 409 while the first is still running: still unknown), and settles from
 * Stripe's replay, the PaymentIntent or the webhook once the first lands.
 */
import assert from "node:assert/strict";
import { allLedgerEntries } from "../kv/customers.ts";
import { RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import type { FaultHandle } from "../emulator/faults.ts";

const TIMEOUT_MS = 400;
const CONFIRM = /\/confirm$/;

/**
 * The emulator holds the confirm until the test lets it land, as Stripe would within the
 * minute: never on a timer, which a busy machine outruns before the reconcile point.
 */
function hold(w: RetryWorld): FaultHandle {
  return w.emu.faults.inject({ method: "POST", path: CONFIRM, kind: "latency", ms: Infinity });
}

async function land(w: RetryWorld, held: FaultHandle) {
  await held.release();
  await w.emu.deliveries();
}

async function settles(w: RetryWorld, id: string) {
  const all = (await w.t.services.audit.list({ limit: 100, action: "retry.settle" })).data;
  return all.filter((e) => e.target?.id === id);
}

Deno.test("a confirm held past the reconcile point is not closed as not received; it settles when it lands", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const held = hold(w);
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, "processing");

    // The reconcile point passes while Stripe still holds the confirm.
    w.clock.advance(61_000);
    const early = await w.t.services.retries.reconcile();
    assert.equal(early.not_received, 0, "never concluded while the confirm may still act");
    assert.equal(early.unknown, 1);
    let r = await w.get(`${RETRIES}/${res.body.id}`);
    assert.equal(r.body.status, "processing");
    assert.equal(r.body.failure_code, null);

    await land(w, held);
    await w.dropHeld(); // its webhooks never arrive: reconciliation alone settles it
    w.clock.advance(61_000);
    const late = await w.t.services.retries.reconcile();
    assert.equal(late.settled, 1);
    r = await w.get(`${RETRIES}/${res.body.id}`);
    assert.equal(r.body.status, "succeeded");
    assert.equal(r.body.settled_by, "reconcile");
    const charges = await w.charges(f.pi.id);
    assert.equal(charges.filter((c) => c.status === "succeeded").length, 1, "charged once");
    assert.equal(r.body.stripe_charge, charges.find((c) => c.status === "succeeded")?.id);
    const audit = await settles(w, res.body.id as string);
    assert.equal(audit.length, 1, "settled once, never as failed first");
    assert.equal(audit[0].result, "ok");
    const ledger = await allLedgerEntries(w.t.kv, f.customer);
    assert.deepEqual(ledger.filter((e) => e.type === "payment").map((e) => e.amount), [5000]);
    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "succeeded");
  }, { timeoutMs: TIMEOUT_MS });
});

Deno.test("a held decline that lands after the reconcile point is settled by its webhook as the decline", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(2500, "pm_card_chargeDeclined");
    const held = hold(w);
    const res = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    assert.equal(res.status, 202);
    w.clock.advance(61_000);
    assert.equal((await w.t.services.retries.reconcile()).not_received, 0);
    await land(w, held);
    await w.deliver();
    const r = await w.get(`${RETRIES}/${res.body.id}`);
    assert.equal(r.body.status, "failed");
    assert.equal(r.body.settled_by, "webhook");
    assert.equal(r.body.decline_code, "insufficient_funds");
    assert.notEqual(r.body.failure_code, "not_received_by_stripe");
    assert.equal((await settles(w, res.body.id as string)).length, 1);
    // a later run finds nothing left
    w.clock.advance(61_000);
    const after = await w.t.services.retries.reconcile();
    assert.equal(after.settled + after.not_received + after.unknown, 0);
  }, { timeoutMs: TIMEOUT_MS });
});

Deno.test("an attempt Stripe never answered is closed as not received only once its idempotency key expired", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    w.emu.faults.inject({
      method: "POST",
      path: CONFIRM,
      kind: "server_error",
      times: Infinity,
    });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 202);
    // what support does meanwhile: wait for the outcome, not retry
    assert.match(String(res.body.next_step), /not known yet/);
    assert.match(String(res.body.next_step), /do not retry/);
    assert.match(
      String(res.body.next_step),
      new RegExp(`GET /api/admin/payments/retries/${res.body.id}`),
    );
    w.clock.advance(61_000);
    const early = await w.t.services.retries.reconcile();
    assert.deepEqual([early.not_received, early.unknown], [0, 1]);
    w.emu.faults.clear();
    w.clock.advance(23 * 3600 * 1000);
    const late = await w.t.services.retries.reconcile();
    assert.equal(late.not_received, 1);
    const r = await w.get(`${RETRIES}/${res.body.id}`);
    assert.equal(r.body.status, "failed");
    assert.equal(r.body.failure_code, "not_received_by_stripe");
    assert.match(String(r.body.next_step), /nothing was charged/);
    assert.doesNotMatch(String(r.body.next_step), /another card/);
    assert.equal((await w.charges(f.pi.id)).length, 1, "no confirm reached the card");
  });
});
