/**
 * Capture and cancel of one authorization sent from two isolates at once
 * (README, "Retrying failed payments": one capture or cancel per payment):
 * Stripe is asked once, the other request is 409 naming who did what and when.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { auditEntries, jsonRequest } from "./helpers/identity.ts";

const TXNS = "/api/admin/payments/transactions";

Deno.test("isolates: one operator captures while another cancels on the other isolate: one action, the other 409 naming it", async () => {
  await withRetryWorld(async (w) => {
    const other = await w.isolate();
    const { pi } = await authorizeAtStripe(w.stripe, 3000, "two-isolates@example.com");
    await w.deliver();
    const txnId = (await w.t.services.transactions.get(pi.id)).id;
    const [h1, h2] = [await w.stepUp(w.operator), await w.stepUp(w.operator2)];
    const answers = await Promise.all([
      w.t.app.request(`${TXNS}/${txnId}/capture`, jsonRequest("POST", h1, {})),
      other.t.app.request(
        `${TXNS}/${txnId}/cancel`,
        jsonRequest("POST", h2, { reason: "abandoned", note: "customer gave up" }),
      ),
    ]);
    const bodies = await Promise.all(answers.map((r) => r.json()));
    assert.deepEqual(answers.map((r) => r.status).sort(), [201, 409], JSON.stringify(bodies));
    const won = bodies[answers.findIndex((r) => r.status === 201)];
    const lost = bodies[answers.findIndex((r) => r.status === 409)];
    assert.ok(
      lost.detail.includes(`by ${won.requested_by} at ${won.created_at}`),
      `${lost.detail} names who and when`,
    );
    const final = await w.stripe.paymentIntents.retrieve(pi.id);
    assert.equal(final.status, won.kind === "capture" ? "succeeded" : "canceled");
    const entries = (await auditEntries(w.t.kv)).filter((e) =>
      e.action === "authorization.capture" || e.action === "authorization.cancel"
    );
    assert.deepEqual(entries.map((e) => e.result).sort(), ["denied", "ok"]);
    await w.deliver();
    assert.equal((await w.t.services.audit.verify()).ok, true);
  }, { file: true });
});

Deno.test("isolates: a burst of one capture under one Idempotency-Key on both captures once", async () => {
  await withRetryWorld(async (w) => {
    const other = await w.isolate();
    const { pi } = await authorizeAtStripe(w.stripe, 4000, "burst-capture@example.com");
    await w.deliver();
    const txnId = (await w.t.services.transactions.get(pi.id)).id;
    const headers = { ...await w.stepUp(), "idempotency-key": "capture-once" };
    const body = { amount_to_capture: 2500 };
    const send = (app: typeof w.t.app) =>
      app.request(`${TXNS}/${txnId}/capture`, jsonRequest("POST", headers, body));
    const answers = await Promise.all([
      send(w.t.app),
      send(other.t.app),
      send(w.t.app),
      send(other.t.app),
      send(w.t.app),
    ]);
    const ids = new Set<string>();
    for (const r of answers) {
      const json = await r.json();
      // the key still running elsewhere: 409 before it recorded its capture, else that capture
      // once its call is back; every answer names one action
      if (r.status === 201) ids.add(json.id);
      else assert.equal(r.status, 409, JSON.stringify(json));
    }
    assert.equal(ids.size, 1, "one capture");
    const replay = await send(other.t.app);
    assert.equal(replay.status, 201);
    assert.equal((await replay.json()).id, [...ids][0]);
    const final = await w.stripe.paymentIntents.retrieve(pi.id);
    assert.equal(final.amount_received, 2500);
  }, { file: true });
});
