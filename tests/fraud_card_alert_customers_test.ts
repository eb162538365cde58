/**
 * A card-level alert (`card:<fingerprint>`, the cross-customer card-testing
 * alert) counts for every customer it names: it shows on their
 * `GET /customers/{id}` and a retry of their failed payment needs
 * `confirm_fraud_alert` (README "Retry policy", `fraud_alert_open`), as the
 * named customers grow and until the alert is resolved. Alerts stored before
 * every named customer was indexed are indexed once at startup.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { withKv } from "./helpers/kv.ts";
import { raiseDeps } from "./helpers/fraud.ts";
import { systemContext } from "../domain/actor.ts";
import type { FraudAlert, Signal } from "../domain/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { confirmedFraudAlert, hasOpenFraudAlert } from "../kv/customer_fraud_marks.ts";
import { indexAlertCustomers } from "../kv/fraud.ts";
import { keys } from "../kv/keys.ts";

function cardHit(txn: string, at: number, customers: string[]): Signal {
  return {
    rule: "failed_attempts",
    level: "alert",
    points: 30,
    severity: "high",
    transaction_id: txn,
    at: new Date(at).toISOString(),
    rule_version: 1,
    shadow: false,
    evidence: { card_fingerprint: "fp_tested", customers },
  };
}

function cardTarget(customers: string[]) {
  return {
    subject: "card:fp_tested",
    customer: null,
    card_fingerprint: "fp_tested",
    customers,
  };
}

Deno.test("a card alert counts for each customer it names, as they grow, until it is resolved", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const d = raiseDeps(w.t);
    const first = await raiseAlerts(
      d,
      systemContext("test"),
      cardTarget(["cus_other1", f.customer]),
      [cardHit("txn_card1", w.clock.now(), ["cus_other1", f.customer])],
      () => ({}),
    );
    assert.equal(first.raised, 1);
    const id = first.alerts[0];

    const view = await w.get(`/api/admin/payments/customers/${f.customer}`);
    assert.equal(view.status, 200);
    const shown = view.body.open_alerts as FraudAlert[];
    assert.deepEqual(shown.map((a) => a.id), [id]);
    assert.equal(shown[0].customer, null);

    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    const refused = await w.retry(body);
    assert.equal(refused.status, 422);
    assert.equal(refused.body.reason, "fraud_alert_open");

    // the card is declined for one more customer: the same alert now names them too
    const more = await raiseAlerts(
      d,
      systemContext("test"),
      cardTarget(["cus_other2"]),
      [cardHit("txn_card2", w.clock.now(), ["cus_other2"])],
      () => ({}),
    );
    assert.deepEqual([more.raised, more.alerts], [0, [id]]);
    for (const c of ["cus_other1", "cus_other2", f.customer]) {
      assert.equal(await hasOpenFraudAlert(w.t.kv, c), true, c);
    }

    // resolved: it counts for none of them
    const ctx = w.ctx(w.admin);
    await w.t.services.fraud.updateAlert(ctx, id, { status: "investigating" });
    await w.t.services.fraud.updateAlert(ctx, id, {
      status: "resolved_legitimate",
      note: "the card's owner shops for the family",
    });
    for (const c of ["cus_other1", "cus_other2", f.customer]) {
      assert.equal(await hasOpenFraudAlert(w.t.kv, c), false, c);
    }
    const after = await w.get(`/api/admin/payments/customers/${f.customer}`);
    assert.deepEqual(after.body.open_alerts, []);
    const ok = await w.retry(body);
    assert.equal(ok.status, 201);
  });
});

Deno.test("indexAlertCustomers() indexes the named customers of open alerts stored before, once", async () => {
  await withKv(async (kv) => {
    const alert = (id: string, status: FraudAlert["status"]) => ({
      id,
      subject: `card:fp_${id}`,
      customer: null,
      card_fingerprint: `fp_${id}`,
      customers: ["cus_a", "cus_b"],
      rule: "failed_attempts",
      status,
    });
    // as stored before: the alert and its open index, no row per named customer
    await kv.atomic()
      .set(keys.fraudAlert("fa_OPEN"), alert("fa_OPEN", "open"))
      .set(keys.fraudOpenAlert("card:fp_fa_OPEN", "failed_attempts"), "fa_OPEN")
      .set(keys.fraudAlert("fa_DONE"), alert("fa_DONE", "resolved_fraud"))
      .commit();
    assert.equal(await hasOpenFraudAlert(kv, "cus_a"), false);
    assert.equal(await indexAlertCustomers(kv), 2);
    for (const c of ["cus_a", "cus_b"]) {
      const rows = [];
      for await (const r of kv.list({ prefix: keys.fraudAlertsByCustomerPrefix(c) })) {
        rows.push(r.value);
      }
      assert.deepEqual(rows, ["fa_OPEN"], c);
    }
    // done once: a second start reads one key
    await kv.delete(keys.fraudAlertsByCustomer("cus_a", "fa_OPEN"));
    assert.equal(await indexAlertCustomers(kv), 0);
  });
});

Deno.test("an alert resolved as fraud keeps each customer it names behind confirm_fraud_alert for 90 days", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const raised = await raiseAlerts(
      raiseDeps(w.t),
      systemContext("test"),
      cardTarget(["cus_other1", f.customer]),
      [cardHit("txn_card1", w.clock.now(), ["cus_other1", f.customer])],
      () => ({}),
    );
    const id = raised.alerts[0];
    const ctx = w.ctx(w.admin);
    await w.t.services.fraud.updateAlert(ctx, id, { status: "investigating" });
    await w.t.services.fraud.updateAlert(ctx, id, {
      status: "resolved_fraud",
      note: "stolen card used across accounts",
    });
    assert.equal(await hasOpenFraudAlert(w.t.kv, f.customer), false, "no longer open");

    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    const calls = w.emu.requests.total();
    const refused = await w.retry(body);
    assert.equal(refused.status, 422);
    assert.equal(refused.body.reason, "fraud_confirmed");
    assert.match(String(refused.body.detail), new RegExp(id));
    assert.equal(w.emu.requests.total(), calls, "nothing sent to Stripe");
    const confirmed = await w.retry({
      ...body,
      confirm_fraud_alert: true,
      note: "the customer proved the card is theirs; cleared with risk",
    });
    assert.equal(confirmed.status, 201);

    // 90 days on, the mark is gone (read as the retry policy reads it)
    const day = 24 * 3600_000;
    assert.equal(await confirmedFraudAlert(w.t.kv, f.customer, w.clock.now() + 89 * day), id);
    assert.equal(await confirmedFraudAlert(w.t.kv, f.customer, w.clock.now() + 91 * day), null);
    assert.equal(await confirmedFraudAlert(w.t.kv, "cus_other1", w.clock.now()), id);
  });
});
