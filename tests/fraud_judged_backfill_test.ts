/**
 * Alerts stored before what they judged was recorded (README "Fraud
 * detection", Alerts): the once-per-store pass at start records their hits,
 * so a resolved one does not come back for the same payment either.
 */
import assert from "node:assert/strict";
import { confirmedPayment } from "./helpers/emulator.ts";
import { withEmulatorApp } from "./helpers/webhooks.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { allFraudAlerts } from "./helpers/fraud.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";
import { backfillJudged } from "../services/fraud/judged.ts";
import { judgedOf } from "../kv/fraud.ts";
import type { TestApp } from "./helpers/app.ts";

const F = "/api/admin/payments/fraud";

async function walkBoth(t: TestApp) {
  t.clock.advance(WALK_LAG_MS);
  await t.services.fraud.live({ trigger: "test" });
  t.clock.advance(WALK_LAG_MS);
  await t.services.fraud.sweep({ trigger: "test" });
}

/** The store as it was before `fraud_judged` existed: no such keys, no pass run. */
async function forgetJudged(kv: Deno.Kv) {
  const op = kv.atomic().delete(["meta", "fraud_judged_backfilled"]);
  for await (const row of kv.list({ prefix: ["fraud_judged"] })) op.delete(row.key);
  assert.ok((await op.commit()).ok);
}

Deno.test("an alert resolved before its hits were recorded as judged does not come back once the pass at start has run", async () => {
  await withEmulatorApp(async ({ t, stripe, settle }) => {
    const analyst = await createAdmin(t, "analyst");
    const cus = await stripe.customers.create({ email: "old-alert@example.com" });
    const big = await confirmedPayment(stripe, {
      amount: 30_000,
      customer: cus.id,
      payment_method: "pm_card_amex",
    });
    await settle();
    const bigTxn = (await t.services.transactions.get(big.id)).id;
    t.clock.advance(WALK_LAG_MS);
    await t.services.fraud.live({ trigger: "test" });
    const [alert] = (await allFraudAlerts(t)).filter((a) => a.subject === cus.id);
    assert.equal(alert.rule, "new_customer_high_value");
    for (const status of ["investigating", "resolved_legitimate"]) {
      const res = await sendJson(t, "PATCH", `${F}/alerts/${alert.id}`, authHeaders(analyst), {
        status,
        note: "known buyer",
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }

    await forgetJudged(t.kv);
    const rule = alert.rule;
    assert.equal((await judgedOf(t.kv, cus.id, rule, [bigTxn], t.clock.now())).size, 0);
    assert.ok(await backfillJudged(t.kv, t.clock) >= 1);
    assert.deepEqual([...await judgedOf(t.kv, cus.id, rule, [bigTxn], t.clock.now())], [bigTxn]);
    assert.equal(await backfillJudged(t.kv, t.clock), 0, "once per store");

    await confirmedPayment(stripe, { amount: 1000, customer: cus.id });
    await settle();
    await walkBoth(t);
    const ofRule = (await allFraudAlerts(t)).filter((a) => a.subject === cus.id && a.rule === rule);
    assert.deepEqual(ofRule.map((a) => [a.id, a.status]), [[alert.id, "resolved_legitimate"]]);
  });
});
