/**
 * GET /customers/{id} shows the open fraud alerts as the caller's role may
 * see them (README "Security", roles; "Fraud detection": alerts): reading an
 * alert (signals, evidence, snapshot, the other customers a card alert names)
 * is analyst and above; a viewer or support sees each open alert's id, rule,
 * severity and status, as the transaction page shows them.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { systemContext } from "../domain/actor.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { customerObject, stripeEvent, T0 } from "./helpers/stripe_objects.ts";

Deno.test("GET /customers/{id}: full open alerts for roles that read alerts, a summary for the others", async () => {
  await withTestApp(async (t) => {
    const cus = customerObject({ id: "cus_Seen" });
    await t.services.stripeEvents.apply(stripeEvent("customer.created", cus, T0));
    const at = new Date(t.clock.now()).toISOString();
    // a card alert naming this customer and another one
    await raiseAlerts(
      raiseDeps(t),
      systemContext("test"),
      {
        subject: "card:fpX",
        customer: null,
        card_fingerprint: "fpX",
        customers: [cus.id, "cus_Other"],
      },
      [{
        ...velocityHit("txn_card", at, { customers: [cus.id, "cus_Other"] }),
        rule: "failed_attempts",
      }],
      () => ({ card_fingerprint: "fpX" }),
    );
    const path = `/api/admin/payments/customers/${cus.id}`;
    for (const role of ["viewer", "support"] as const) {
      const who = await createAdmin(t, role);
      const r = await sendJson(t, "GET", path, authHeaders(who));
      assert.equal(r.status, 200);
      assert.equal(r.body.open_alerts.length, 1);
      assert.deepEqual(Object.keys(r.body.open_alerts[0]).sort(), [
        "id",
        "rule",
        "severity",
        "status",
      ]);
      assert.equal(r.body.open_alerts[0].status, "open");
      assert.ok(!JSON.stringify(r.body).includes("cus_Other"), `${role} sees no other customer`);
    }
    const analyst = await createAdmin(t, "analyst");
    const full = await sendJson(t, "GET", path, authHeaders(analyst));
    assert.equal(full.status, 200);
    assert.deepEqual(full.body.open_alerts[0].customers, [cus.id, "cus_Other"]);
    assert.equal(full.body.open_alerts[0].signals.length, 1);
  });
});
