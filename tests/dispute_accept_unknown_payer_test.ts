/**
 * An accept of a dispute whose payment is not known yet (README, "Two-person
 * rules", `dispute.accept`): a dispute seen before its payment's webhooks (a
 * stub transaction) has no customer and no card, so the same operator's
 * accepts of that payer's disputes cannot be added up; such an accept needs a
 * second person whatever its amount, one by one or in a burst. Once the
 * payment arrives, the accepts count by its customer and card again.
 */
import assert from "node:assert/strict";
import { type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import { API, call } from "./helpers/disputes.ts";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { addAcceptMark, getAcceptTally } from "../kv/dispute_accepts.ts";

const CARD = "pm_card_createDisputeProductNotReceived";

/** Two 300.00 disputes of one customer, synced from Stripe while the webhooks are held. */
async function disputesBeforePayments(w: RefundWorld) {
  const customer = (await w.stripe.customers.create({ email: "stub@example.com" })).id;
  for (let n = 0; n < 2; n++) {
    await w.stripe.paymentIntents.create({
      amount: 30_000,
      currency: "usd",
      customer,
      payment_method: CARD,
      confirm: true,
    });
  }
  // The emulator opens each dispute on a timer after its charge: wait for them, webhooks kept held.
  await w.held();
  const synced = await call(w, w.operator, "POST", "/disputes/sync", {});
  assert.equal(synced.status, 200, JSON.stringify(synced.body));
  const listed = await call(w, w.operator, "GET", "/disputes");
  const disputes = listed.body.data as { id: string; customer: string | null }[];
  assert.equal(disputes.length, 2);
  for (const d of disputes) assert.equal(d.customer, null, "the payment is not known yet");
  return { customer, ids: disputes.map((d) => d.id) };
}

const accept = (w: RefundWorld, as: RefundWorld["operator"], id: string, note = "stub") =>
  call(w, as, "POST", `/disputes/${id}/accept`, { note }, true);

Deno.test("attack: accepts of disputes seen before their payment need a second person; after it arrives they add up", async () => {
  await withRefundWorld(async (w) => {
    const { customer, ids } = await disputesBeforePayments(w);
    const answers = [await accept(w, w.operator2, ids[0]), await accept(w, w.operator2, ids[1])];
    for (const a of answers) {
      assert.equal(a.status, 202, JSON.stringify(a.body));
      assert.match(
        a.body.approval.summary,
        /the payment's customer and card are not known yet \(the dispute was seen before its payment\)/,
      );
      assert.equal(a.body.approval.payload.payer_known, false);
    }
    for (const id of ids) {
      const d = await w.t.services.disputes.get(id);
      assert.equal((await w.stripe.disputes.retrieve(d.stripe_dispute)).status, "needs_response");
    }
    // the payments arrive: the disputes move to them and take their customer
    await w.deliver();
    for (const id of ids) assert.equal((await w.t.services.disputes.get(id)).customer, customer);
    // the requests withdrawn, the accepts are judged by the customer's sum again
    for (const a of answers) {
      const res = await w.t.app.request(
        `/api/admin/approvals/${a.body.approval.id}/reject`,
        jsonRequest("POST", await stepUpHeaders(w.t, w.operator2), { note: "withdrawn" }),
      );
      assert.equal(res.status, 200, await res.text());
    }
    assert.equal((await accept(w, w.operator2, ids[0])).status, 200, "300.00 alone: under 500.00");
    const second = await accept(w, w.operator2, ids[1]);
    assert.equal(second.status, 202, JSON.stringify(second.body));
    assert.match(second.body.approval.summary, /with 300\.00 USD of this customer's \(or card's\)/);
  });
});

Deno.test("attack: a burst of one operator's accepts of unknown payments closes nothing alone", async () => {
  await withRefundWorld(async (w) => {
    const { ids } = await disputesBeforePayments(w);
    const headers = await stepUpHeaders(w.t, w.operator2);
    const answers = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((n) =>
        w.t.app.request(
          `${API}/disputes/${ids[n % 2]}/accept`,
          jsonRequest("POST", headers, { note: `stub ${n % 3}` }),
        )
      ),
    );
    const bodies = await Promise.all(answers.map((r) => r.json()));
    for (const [i, r] of answers.entries()) {
      // a request for a second person, or 409 naming the one waiting: never a close, done
      // (200) or in flight (202 without a request)
      assert.ok([202, 409].includes(r.status), `${r.status} ${JSON.stringify(bodies[i])}`);
      if (r.status === 202) assert.ok(bodies[i].approval, JSON.stringify(bodies[i]));
    }
    assert.ok(answers.some((r) => r.status === 202), "at least one request for a second person");
    for (const id of ids) {
      const d = await w.t.services.disputes.get(id);
      assert.equal(d.closing, null);
      assert.equal((await w.stripe.disputes.retrieve(d.stripe_dispute)).status, "needs_response");
    }
  });
});

Deno.test("an accept recorded alone while its payment was unknown counts toward the customer once it arrives", async () => {
  await withRefundWorld(async (w) => {
    const { ids } = await disputesBeforePayments(w);
    const first = await w.t.services.disputes.get(ids[0]);
    // recorded as an earlier version did: the stub as its subject, no card
    const now = w.clock.now();
    const tally = await getAcceptTally(w.t.kv, w.operator.id, now);
    const op = w.t.kv.atomic();
    addAcceptMark(op, w.operator.id, tally, {
      at: now,
      dispute: first.id,
      subject: first.transaction_id,
      card: null,
      currency: "usd",
      amount: 30_000,
    });
    assert.ok((await op.commit()).ok);
    await w.deliver();
    const second = await accept(w, w.operator, ids[1]);
    assert.equal(second.status, 202, JSON.stringify(second.body));
    assert.match(second.body.approval.summary, /with 300\.00 USD of this customer's \(or card's\)/);
  });
});
