/**
 * `POST /fraud/analyze {"customer_id":"card:<fingerprint>"}` evaluates what a
 * sweep evaluates for that card (README "Fraud detection", When rules run):
 * its own payments without a customer and the across-customer decline check
 * at its declines, so a card alert's own subject shows the signal that raised
 * it, as analyzing one of its declined payments does.
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { generateStream } from "./helpers/fraud_stream.ts";
import { T0 } from "./helpers/stripe_objects.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";
import type { Signal } from "../domain/fraud.ts";

const BASE = "/api/admin/payments";

Deno.test("POST /fraud/analyze of a card subject shows the across-customer signal its alert was raised on", async () => {
  const t = await createTestApp();
  try {
    const s = generateStream(T0, 3, 10);
    for (const e of s.events) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    const analyst = await createAdmin(t, "analyst");
    const h = authHeaders(analyst);
    const subject = `card:${s.crossCard}`;

    const swept = await sendJson(t, "POST", `${BASE}/fraud/sweeps`, h);
    assert.equal(swept.status, 200, JSON.stringify(swept.body));
    const alerts = await sendJson(
      t,
      "GET",
      `${BASE}/fraud/alerts?customer=${encodeURIComponent(subject)}`,
      h,
    );
    assert.equal(alerts.status, 200);
    assert.equal(alerts.body.data.length, 1, JSON.stringify(alerts.body));
    const alert = alerts.body.data[0];
    assert.equal(alert.rule, "failed_attempts");

    const r = await sendJson(t, "POST", `${BASE}/fraud/analyze`, h, { customer_id: subject });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.subject, subject);
    const signals = r.body.signals as Signal[];
    assert.ok(signals.length > 0, "the card's across-customer check ran");
    // the very signals the sweep raised the alert on
    assert.deepEqual(signals, alert.signals);
    assert.equal(signals[0].evidence.distinct_customers, 3);

    // as analyzing the declined payment that reached the third customer shows it
    const byTxn = await sendJson(t, "POST", `${BASE}/fraud/analyze`, h, {
      transaction_id: signals[0].transaction_id,
    });
    assert.equal(byTxn.status, 200, JSON.stringify(byTxn.body));
    const cardSignals = (byTxn.body.signals as Signal[]).filter((x) =>
      x.evidence.card_fingerprint === s.crossCard && x.level === "alert"
    );
    assert.deepEqual(cardSignals, signals);

    // a card seen only in its customers' declines is known here: not a 404
    const other = await sendJson(t, "POST", `${BASE}/fraud/analyze`, h, {
      customer_id: "card:fp_never_seen",
    });
    assert.equal(other.status, 404);
    assert.equal(other.body.errors[0].path, "body.customer_id");
  } finally {
    await t.close();
  }
});
