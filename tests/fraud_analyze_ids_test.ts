/**
 * `POST /fraud/analyze` takes a payment as operators find it, like a refund or
 * a retry does (README "A first session": the `txn_…` id, or the `pi_…` /
 * `ch_…` id the Stripe Dashboard shows), and an id that names no payment is a
 * 404 on `body.transaction_id` saying which ids are taken.
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { generateStream } from "./helpers/fraud_stream.ts";
import { T0 } from "./helpers/stripe_objects.ts";
import { knownCards } from "./helpers/fraud.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

const BASE = "/api/admin/payments";

Deno.test("POST /fraud/analyze: a payment named by its Stripe id is the same payment", async () => {
  const t = await createTestApp();
  try {
    const s = generateStream(T0, 3, 10);
    for (const e of s.events) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    const analyst = await createAdmin(t, "analyst");
    const viewer = await createAdmin(t, "viewer");
    const list = await sendJson(
      t,
      "GET",
      `${BASE}/transactions?customer=${s.injected.velocity}&limit=1`,
      authHeaders(viewer),
    );
    assert.equal(list.status, 200);
    const txn = list.body.data[0];
    const byTxn = await sendJson(t, "POST", `${BASE}/fraud/analyze`, authHeaders(analyst), {
      transaction_id: txn.id,
    });
    assert.equal(byTxn.status, 200);
    assert.equal(byTxn.body.transaction_id, txn.id);

    const stripeIds = [txn.stripe_payment_intent, txn.stripe_charge].filter(Boolean);
    assert.ok(stripeIds.length > 0, "the payment has a Stripe id");
    for (const id of stripeIds) {
      const r = await sendJson(t, "POST", `${BASE}/fraud/analyze`, authHeaders(analyst), {
        transaction_id: id,
      });
      assert.equal(r.status, 200, `${id}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, byTxn.body, `${id} analyzes the same payment`);
    }

    for (const id of ["pi_NoSuchPayment", "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R"]) {
      const unknown = await sendJson(t, "POST", `${BASE}/fraud/analyze`, authHeaders(analyst), {
        transaction_id: id,
      });
      assert.equal(unknown.status, 404, id);
      assert.equal(unknown.body.errors[0].path, "body.transaction_id", id);
      assert.match(unknown.body.errors[0].message, /txn_…, pi_… or ch_…/, id);
    }
  } finally {
    await t.close();
  }
});

Deno.test("POST /fraud/analyze: an unknown customer_id is a 404 naming body.customer_id", async () => {
  const t = await createTestApp();
  try {
    const analyst = await createAdmin(t, "analyst");
    const r = await sendJson(t, "POST", `${BASE}/fraud/analyze`, authHeaders(analyst), {
      customer_id: "cus_NoSuchCustomer",
    });
    assert.equal(r.status, 404);
    assert.equal(r.body.errors?.[0]?.path, "body.customer_id", JSON.stringify(r.body));
    assert.match(r.body.errors[0].message, /cus_…/);
  } finally {
    await t.close();
  }
});

Deno.test("POST /fraud/analyze: an unknown card subject is a 404 naming body.customer_id, as a snooze's is", async () => {
  const t = await createTestApp();
  try {
    const analyst = await createAdmin(t, "analyst");
    const r = await sendJson(t, "POST", `${BASE}/fraud/analyze`, authHeaders(analyst), {
      customer_id: "card:nope",
    });
    assert.equal(r.status, 404, JSON.stringify(r.body));
    assert.equal(r.body.errors?.[0]?.path, "body.customer_id", JSON.stringify(r.body));
    assert.match(r.body.errors[0].message, /no card nope is known here/);
    // a card the service has seen paying without a customer is analyzed
    await knownCards(t.kv, "seenCard1");
    const known = await sendJson(t, "POST", `${BASE}/fraud/analyze`, authHeaders(analyst), {
      customer_id: "card:seenCard1",
    });
    assert.equal(known.status, 200, JSON.stringify(known.body));
    assert.equal(known.body.subject, "card:seenCard1");
  } finally {
    await t.close();
  }
});
