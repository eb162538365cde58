/**
 * An open alert on a card (`card:<fingerprint>`, the cross-customer
 * card-testing alert) holds back a retry of a payment declined on that card,
 * or one offering that card, before the alert lists the customer (README
 * "Retry policy", `fraud_alert_open`): the live pass adds the customer only
 * once it walks the decline, seconds later.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { cardTarget, raiseDeps } from "./helpers/fraud.ts";
import { systemContext } from "../domain/actor.ts";
import type { Signal } from "../domain/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";

function cardHit(fingerprint: string, txn: string, at: number, customers: string[]): Signal {
  return {
    rule: "failed_attempts",
    level: "alert",
    points: 30,
    severity: "high",
    transaction_id: txn,
    at: new Date(at).toISOString(),
    rule_version: 1,
    shadow: false,
    evidence: { card_fingerprint: fingerprint, customers },
  };
}

Deno.test("a retry of a payment declined on a card with an open card alert not naming the customer yet needs confirm_fraud_alert", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const declined = await w.stripe.charges.retrieve(String(f.pi.latest_charge));
    const fp = declined.payment_method_details!.card!.fingerprint!;
    const raised = await raiseAlerts(
      raiseDeps(w.t),
      systemContext("test"),
      cardTarget(fp, ["cus_tested1"]),
      [cardHit(fp, "txn_other", w.clock.now(), ["cus_tested1"])],
      () => ({}),
    );
    const id = raised.alerts[0];
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    const refused = await w.retry(body);
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.reason, "fraud_alert_open");
    assert.match(
      String(refused.body.detail),
      new RegExp(`fraud alert ${id} is open on the card this payment was declined on`),
    );
    assert.match(String(refused.body.detail), /send confirm_fraud_alert: true and a note/);

    const ok = await w.retry({ ...body, confirm_fraud_alert: true, note: "known customer" });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });
});

Deno.test("a retry offering a card with an open card alert needs confirm_fraud_alert; another card does not", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const tested = await w.stripe.paymentMethods.attach("pm_card_mastercard", {
      customer: f.customer,
    });
    const fp = tested.card!.fingerprint!;
    const raised = await raiseAlerts(
      raiseDeps(w.t),
      systemContext("test"),
      cardTarget(fp, ["cus_tested1"]),
      [cardHit(fp, "txn_other", w.clock.now(), ["cus_tested1"])],
      () => ({}),
    );
    const refused = await w.retry({ transaction_id: f.txnId, payment_method: tested.id });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.reason, "fraud_alert_open");
    assert.match(
      String(refused.body.detail),
      new RegExp(`fraud alert ${raised.alerts[0]} is open on the card offered`),
    );

    const other = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(other.status, 201, JSON.stringify(other.body));
  });
});
