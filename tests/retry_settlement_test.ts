/** outcomeOfPi(): which PaymentIntent states settle an attempt, and which say nothing about it. */
import assert from "node:assert/strict";
import { outcomeOfPi } from "../services/retries/settlement.ts";
import { nextStepOf } from "../domain/retry_next_step.ts";
import type { RetryRecord } from "../kv/retries.ts";
import type { PiSnap } from "../domain/transaction.ts";

function attempt(status: RetryRecord["status"] = "processing"): RetryRecord {
  return {
    status,
    prior: { latest_charge: "ch_old", error_charge: "ch_old" },
  } as RetryRecord;
}

function pi(over: Partial<PiSnap>): PiSnap {
  return {
    id: "pi_1",
    status: "requires_payment_method",
    error: null,
    latest_charge: "ch_old",
    amount: 5000,
    amount_received: 0,
    currency: "usd",
    customer: "cus_1",
    description: null,
    created: 1,
    order: [0, 1, 0],
    ...over,
  };
}

const declined = (charge: string) => ({
  code: "card_declined",
  decline_code: "insufficient_funds",
  advice_code: "try_again_later",
  message: "Your card has insufficient funds.",
  charge,
  payment_method: null,
});

Deno.test("outcomeOfPi(): the decline the attempt was recorded after says nothing about it", () => {
  assert.equal(outcomeOfPi(attempt(), pi({ error: declined("ch_old") })), null);
});

Deno.test("outcomeOfPi(): a new decline fails the attempt with its codes", () => {
  const o = outcomeOfPi(attempt(), pi({ error: declined("ch_new"), latest_charge: "ch_new" }));
  assert.deepEqual(
    [o?.status, o?.decline_code, o?.advice_code, o?.stripe_charge],
    ["failed", "insufficient_funds", "try_again_later", "ch_new"],
  );
});

Deno.test("outcomeOfPi(): succeeded succeeds; requires_capture and requires_action wait; canceled fails", () => {
  assert.equal(outcomeOfPi(attempt(), pi({ status: "succeeded" }))?.status, "succeeded");
  // authorized only: nothing charged yet
  assert.equal(
    outcomeOfPi(attempt(), pi({ status: "requires_capture" }))?.status,
    "requires_capture",
  );
  assert.equal(outcomeOfPi(attempt("requires_capture"), pi({ status: "requires_capture" })), null);
  const captured = outcomeOfPi(attempt("requires_capture"), pi({ status: "succeeded" }));
  assert.equal(captured?.status, "succeeded");
  const released = outcomeOfPi(attempt("requires_capture"), pi({ status: "canceled" }));
  assert.equal(released?.status, "canceled");
  assert.match(String(released?.failure_message), /nothing was charged/);
  assert.equal(
    outcomeOfPi(attempt(), pi({ status: "requires_action" }))?.status,
    "requires_action",
  );
  assert.equal(outcomeOfPi(attempt("requires_action"), pi({ status: "requires_action" })), null);
  assert.equal(outcomeOfPi(attempt(), pi({ status: "processing" })), null);
  const canceled = outcomeOfPi(attempt(), pi({ status: "canceled" }));
  assert.equal(canceled?.failure_code, "payment_intent_canceled");
});

Deno.test("outcomeOfPi(): after requires_action, any decline (a failed authentication) ends the attempt", () => {
  const o = outcomeOfPi(attempt("requires_action"), pi({ error: declined("ch_old") }));
  assert.equal(o?.status, "failed");
});

Deno.test("outcomeOfPi(): a PaymentIntent with another payment method is not this attempt's", () => {
  const mine = { ...attempt(), payment_method: "pm_x" } as RetryRecord;
  const waiting = { ...attempt("requires_action"), payment_method: "pm_x" } as RetryRecord;
  assert.equal(
    outcomeOfPi(mine, pi({ status: "succeeded", payment_method: "pm_x" }))?.status,
    "succeeded",
  );
  for (const status of ["succeeded", "requires_capture"]) {
    const o = outcomeOfPi(mine, pi({ status, payment_method: "pm_y", latest_charge: "ch_y" }));
    assert.deepEqual([o?.status, o?.failure_code, o?.stripe_charge], [
      "failed",
      "superseded",
      null,
    ]);
    assert.match(String(o?.failure_message), /pm_y/);
  }
  // another card being authenticated, or declined: this attempt's confirm may still land
  assert.equal(outcomeOfPi(mine, pi({ status: "requires_action", payment_method: "pm_y" })), null);
  const otherDecline = { ...declined("ch_y"), payment_method_id: "pm_y" };
  assert.equal(outcomeOfPi(mine, pi({ error: otherDecline, latest_charge: "ch_y" })), null);
  // ... but one waiting on 3-D Secure was replaced at Stripe by that other card
  assert.equal(
    outcomeOfPi(waiting, pi({ error: otherDecline, latest_charge: "ch_y" }))?.failure_code,
    "superseded",
  );
  const ownDecline = { ...declined("ch_x"), payment_method_id: "pm_x" };
  assert.equal(
    outcomeOfPi(mine, pi({ error: ownDecline, latest_charge: "ch_x" }))?.decline_code,
    "insufficient_funds",
  );
  // snapshots stored before the payment method was kept: as before
  assert.equal(outcomeOfPi(mine, pi({ status: "succeeded" }))?.status, "succeeded");
});

Deno.test("nextStepOf(): an attempt closed by a canceled payment says there is nothing to retry", () => {
  const step = nextStepOf({
    id: "rty_1",
    transaction_id: "txn_1",
    status: "failed",
    failure_code: "payment_intent_canceled",
    decline_code: null,
    advice_code: null,
  });
  assert.doesNotMatch(String(step), /another card/);
  assert.match(String(step), /canceled/);
  assert.match(String(step), /nothing is left to retry/);
});
