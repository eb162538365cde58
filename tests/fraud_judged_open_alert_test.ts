/**
 * What a resolved alert judged stays judged while a newer alert of the same
 * subject and rule is open (README "Fraud detection", Alerts): evaluating
 * the judged payments again (a sweep over history, the live pass) adds
 * nothing to the open alert, which holds only the new payment's hit.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson, type TestAdmin } from "./helpers/identity.ts";
import { allFraudAlerts, customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { systemContext } from "../domain/actor.ts";
import { chargeEvent, otherCard, T0 } from "./helpers/stripe_objects.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

const F = "/api/admin/payments/fraud";

type Walker = "live" | "sweep";

async function walk(t: TestApp, walker: Walker) {
  t.clock.advance(WALK_LAG_MS);
  return walker === "live"
    ? await t.services.fraud.live({ trigger: "test" })
    : await t.services.fraud.sweep({ trigger: "test" });
}

async function resolveLegitimate(t: TestApp, analyst: TestAdmin, id: string) {
  const h = authHeaders(analyst);
  const a = await sendJson(t, "PATCH", `${F}/alerts/${id}`, h, { status: "investigating" });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const b = await sendJson(t, "PATCH", `${F}/alerts/${id}`, h, {
    status: "resolved_legitimate",
    note: "known buyer",
  });
  assert.equal(b.status, 200, JSON.stringify(b.body));
}

for (const [first, second] of [["live", "sweep"], ["sweep", "live"]] as const) {
  Deno.test(`judged payments add nothing to the next open alert (${first} raises it, then ${second})`, async () => {
    const t = await createTestApp();
    try {
      const analyst = await createAdmin(t, "analyst");
      const cus = "cus_judgedOpen";
      const card = otherCard(41);
      const apply = async (e: Stripe.Event) => {
        await t.services.stripeEvents.apply(e);
        t.clock.advance(1_000);
      };
      // ten declines in one second: every one's window holds all ten
      for (let i = 0; i < 10; i++) await apply(chargeEvent(cus, T0, { card, failed: true }));
      await walk(t, "live");
      const judged = (await allFraudAlerts(t)).filter((a) => a.subject === cus);
      assert.ok(judged.some((a) => a.rule === "velocity"), judged.map((a) => a.rule).join());
      for (const a of judged) await resolveLegitimate(t, analyst, a.id);
      const swept = await walk(t, "sweep");
      assert.equal(swept?.hits_added, 0);

      // one more decline a minute later: a new burst, a new alert of its one payment
      await apply(chargeEvent(cus, T0 + 60, { card, failed: true }));
      await walk(t, first);
      const opened = (await allFraudAlerts(t)).filter((a) =>
        a.subject === cus && a.status === "open"
      );
      const velocity = opened.find((a) => a.rule === "velocity");
      assert.ok(velocity, opened.map((a) => a.rule).join());
      for (const a of opened) assert.equal(a.hit_count, 1, `${a.rule}: ${a.hit_count} hits`);

      // the other walker evaluates the judged payments again: nothing added to the open alerts
      const again = await walk(t, second);
      if (again && second === "sweep") assert.equal(again.hits_added, 0);
      const after = (await allFraudAlerts(t)).filter((a) =>
        a.subject === cus && a.status === "open"
      );
      assert.deepEqual(
        after.map((a) => `${a.id} ${a.rule} ${a.hit_count} ${a.transactions.join(",")}`).sort(),
        opened.map((a) => `${a.id} ${a.rule} 1 ${a.transactions.join(",")}`).sort(),
      );
      // a sweep over all of history (its cursor cleared) adds nothing either
      await t.kv.delete(["fraud_cursors", "sweep"]);
      const all = await walk(t, "sweep");
      assert.equal(all?.hits_added, 0);
    } finally {
      await t.close();
    }
  });
}

Deno.test("an open alert still grows by what it counted itself, never by what a resolved one judged", async () => {
  const t = await createTestApp();
  try {
    const d = raiseDeps(t);
    const ctx = systemContext("test");
    const at = new Date(t.clock.now()).toISOString();
    const raise = (x: string, counted: string[]) =>
      raiseAlerts(d, ctx, customerTarget("cus_own"), [
        velocityHit(x, at, { transactions: counted }),
      ], () => ({}));
    // A judges t1, t2; resolved
    const a = (await raise("t2", ["t1", "t2"])).alerts[0];
    const analyst = await createAdmin(t, "analyst");
    await resolveLegitimate(t, analyst, a);
    // B opens with t3 (t1, t2 and t3 in its window)
    const b = await raise("t3", ["t1", "t2", "t3"]);
    assert.equal(b.raised, 1);
    // the judged payments again: nothing for B
    assert.equal((await raise("t2b", ["t1", "t2"])).hits, 0);
    // what B counted itself (t3 with A's payments): B grows, as it would have had the payments
    // come in another order
    const grown = await raise("t4", ["t2", "t3"]);
    assert.deepEqual([grown.hits, grown.alerts], [1, b.alerts]);
  } finally {
    await t.close();
  }
});
