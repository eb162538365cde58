/**
 * `GET /fraud/alerts?customer=` takes what an alert names as its subject: a
 * customer's `cus_…` id (its own alerts and the card alerts listing it), or a
 * card's `card:<fingerprint>` subject as the list shows it (README "Fraud
 * detection": a payment without a customer, and the card check across
 * customers, are grouped by the card).
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { systemContext } from "../domain/actor.ts";
import type { FraudAlert } from "../domain/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";

const BASE = "/api/admin/payments/fraud/alerts";

Deno.test("GET /fraud/alerts?customer=card:<fingerprint> lists that card's alerts", async () => {
  await withTestApp(async (t) => {
    const at = new Date(t.clock.now()).toISOString();
    const card = await raiseAlerts(raiseDeps(t), systemContext("test"), {
      subject: "card:fp_tested",
      customer: null,
      card_fingerprint: "fp_tested",
      customers: ["cus_a", "cus_b"],
    }, [{
      rule: "failed_attempts",
      level: "alert",
      points: 30,
      severity: "high",
      transaction_id: "txn_card1",
      at,
      rule_version: 1,
      shadow: false,
      evidence: { card_fingerprint: "fp_tested", customers: ["cus_a", "cus_b"] },
    }], () => ({}));
    assert.equal(card.raised, 1);
    const own = await raiseAlerts(
      raiseDeps(t),
      systemContext("test"),
      customerTarget("cus_a"),
      [velocityHit("txn_a1", at)],
      () => ({}),
    );
    assert.equal(own.raised, 1);
    const analyst = await createAdmin(t, "analyst");
    const list = async (q: string) => {
      const res = await t.app.request(`${BASE}?${q}`, { headers: authHeaders(analyst) });
      assert.equal(res.status, 200, q);
      return ((await res.json()) as { data: FraudAlert[] }).data.map((a) => a.id);
    };
    assert.deepEqual(await list("customer=card:fp_tested"), card.alerts);
    assert.deepEqual(
      (await list("customer=cus_a")).sort(),
      [...card.alerts, ...own.alerts].sort(),
    );
    assert.deepEqual(await list("customer=cus_b"), card.alerts);
    assert.deepEqual(await list("customer=card:fp_other"), []);
  });
});
