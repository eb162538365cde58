import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, runDisputeJobs } from "./helpers/disputes.ts";
import { auditEntries, jsonRequest, otpHeaders } from "./helpers/identity.ts";

const closePath = (du: string) => `/v1/disputes/${du}/close`;

Deno.test("an approved accept whose close answer was lost stays processing and reconciliation settles it", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 60_000);
    const asked = await call(w, w.operator, "POST", `/disputes/${dispute.id}/accept`, {
      note: "not worth fighting",
    }, true);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    w.emu.faults.inject({
      kind: "act_then_drop",
      method: "POST",
      path: closePath(dispute.stripe_dispute),
    });
    const res = await w.t.app.request(
      `/api/admin/approvals/${asked.body.approval.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {
        approval_hash: asked.body.approval.approval_hash,
      }),
    );
    const { approval } = await res.json();
    assert.equal(res.status, 200, JSON.stringify(approval));
    assert.notEqual(approval.status, "failed");
    assert.equal(approval.result.closing, "processing");
    assert.equal((await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status, "lost");
    const pending = await w.t.services.disputes.get(dispute.id);
    assert.equal(pending.closing?.state, "processing");
    assert.deepEqual(pending.actions, ["notes"]);
    await w.dropHeld(); // the webhooks never come
    w.clock.advance(61_000);
    await runDisputeJobs(w);
    const settled = await w.t.services.disputes.get(dispute.id);
    assert.equal(settled.status, "lost");
    assert.equal(settled.closing?.state, "closed");
    assert.deepEqual(await runDisputeJobs(w), { ran: 0, failed: 0, dead: 0 });
    const actions = (await auditEntries(w.t.kv)).map((e) => e.action);
    assert.ok(!actions.includes("dispute.accept_failed"));
    assert.equal(actions.filter((a) => a === "dispute.accept_settled").length, 1);
  });
});

Deno.test("a direct accept with an unknown outcome answers 202 processing; the webhook settles it", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await w.deliver();
    w.emu.faults.inject({
      kind: "act_then_drop",
      method: "POST",
      path: closePath(dispute.stripe_dispute),
    });
    const path = `/disputes/${dispute.id}/accept`;
    const sent = await call(w, w.operator, "POST", path, { note: "fraud confirmed" }, true);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.approval, null);
    assert.equal(sent.body.dispute.closing.state, "processing");
    const again = await call(w, w.operator2, "POST", path, { note: "again" }, true);
    assert.equal(again.status, 409);
    await w.deliver();
    const settled = await w.t.services.disputes.get(dispute.id);
    assert.equal(settled.status, "lost");
    assert.equal(settled.closing?.state, "closed");
    assert.equal(settled.closing?.job, null);
    w.clock.advance(61_000);
    assert.deepEqual(await runDisputeJobs(w), { ran: 0, failed: 0, dead: 0 });
  });
});

Deno.test("a close Stripe refuses frees the dispute and is recorded as failed", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    // closed at Stripe behind the app's back, webhooks lost: Stripe refuses a second close
    await w.stripe.disputes.close(dispute.stripe_dispute);
    await w.dropHeld();
    const path = `/disputes/${dispute.id}/accept`;
    const refused = await call(w, w.operator, "POST", path, { note: "too late" }, true);
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    const after = await w.t.services.disputes.get(dispute.id);
    assert.equal(after.closing?.state, "failed");
    assert.equal(after.closing?.job, null);
    const actions = (await auditEntries(w.t.kv)).map((e) => e.action);
    assert.ok(actions.includes("dispute.accept_failed"));
  });
});

Deno.test("accept with the same Idempotency-Key and body replays the first answer", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const send = (key: string, note: string) =>
      w.t.app.request(
        `/api/admin/payments/disputes/${dispute.id}/accept`,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator), "idempotency-key": key }, { note }),
      );
    const first = await send("accept-1", "fraud confirmed");
    const firstBody = await first.json();
    assert.equal(first.status, 200, JSON.stringify(firstBody));
    assert.equal(firstBody.status, "lost");
    const again = await send("accept-1", "fraud confirmed");
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), firstBody);
    const other = await send("accept-1", "another note");
    assert.equal(other.status, 422);
    assert.equal((await other.json()).code, "idempotency_key_reused");
    // and the OpenAPI document says so, as on every route that takes a key
    const doc = await (await w.t.app.request("/openapi.json")).json();
    const documented = doc.paths["/api/admin/payments/disputes/{id}/accept"].post.responses["422"];
    assert.match(documented.description, /idempotency_key_reused/);
    // the same accept under a fresh key is a second click: the close, nothing written
    const fresh = await send("accept-2", "fraud confirmed");
    assert.equal(fresh.status, 200);
    assert.deepEqual((await fresh.json()).history, firstBody.history);
    const another = await send("accept-3", "another reason");
    assert.equal(another.status, 409);
    await another.body?.cancel();
    // one accept made; another accept was refused (closed already) and audited denied
    const accepts = (await auditEntries(w.t.kv)).filter((e) => e.action === "dispute.accept");
    assert.deepEqual(accepts.map((e) => e.result), ["ok", "denied"]);
  });
});

/** A dispute on a new payment of `customer` (pm_card_createDispute), delivered to the app. */
async function disputeOf(
  w: Parameters<Parameters<typeof withRefundWorld>[0]>[0],
  customer: string | null,
  amount: number,
  card = "pm_card_createDispute",
) {
  const pi = await w.stripe.paymentIntents.create({
    amount,
    currency: "usd",
    ...(customer ? { customer } : {}),
    payment_method: card,
    confirm: true,
  });
  await w.deliver();
  const [du] = (await w.stripe.disputes.list({ payment_intent: pi.id })).data;
  return await w.t.services.disputes.get(du.id);
}

Deno.test("one operator's accepts of a customer's disputes add up toward the threshold, as one accept would", async () => {
  await withRefundWorld(async (w) => {
    const customer = (await w.stripe.customers.create({ email: "chargebacks@example.com" })).id;
    const [a, b, c] = [
      await disputeOf(w, customer, 30_000),
      await disputeOf(w, customer, 30_000),
      await disputeOf(w, customer, 10_000),
    ];
    const other = (await w.stripe.customers.create({ email: "other@example.com" })).id;
    // another customer with another card (the same card would be the same payer)
    const d = await disputeOf(w, other, 30_000, "pm_card_createDisputeProductNotReceived");
    const accept = (as: typeof w.operator, id: string) =>
      call(w, as, "POST", `/disputes/${id}/accept`, { note: "not worth fighting" }, true);

    assert.equal((await accept(w.operator, a.id)).status, 200); // 300.00 alone: under 500.00
    const second = await accept(w.operator, b.id); // 600.00 on one customer in 24 h
    assert.equal(second.status, 202, JSON.stringify(second.body));
    assert.match(
      second.body.approval.summary,
      /\(fraudulent, 300\.00 USD\) as lost; with 300\.00 USD of this customer's \(or card's\) disputes/,
    );
    assert.equal((await accept(w.operator, d.id)).status, 200, "another customer: its own sum");
    assert.equal((await accept(w.operator2, c.id)).status, 200, "another operator: their own sum");
    // a day on, the earlier accept no longer counts
    const e = await disputeOf(w, customer, 30_000);
    w.clock.advance(24 * 3600_000 + 1000);
    assert.equal((await accept(w.operator, e.id)).status, 200);
  });
});

Deno.test("a direct accept while another's accept request waits is 409 naming it; approved, the request shows executed", async () => {
  await withRefundWorld(async (w) => {
    const customer = (await w.stripe.customers.create({ email: "split@example.com" })).id;
    const a = await disputeOf(w, customer, 30_000);
    const b = await disputeOf(w, customer, 30_000);
    const accept = (as: typeof w.operator, id: string) =>
      call(w, as, "POST", `/disputes/${id}/accept`, { note: "not worth fighting" }, true);
    assert.equal((await accept(w.operator, a.id)).status, 200);
    const asked = await accept(w.operator, b.id); // 600.00 on one customer: a second person
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const requestId = asked.body.approval.id;
    // operator2 alone is under the threshold, but the request waits: no way around the queue
    const around = await accept(w.operator2, b.id);
    assert.equal(around.status, 409, JSON.stringify(around.body));
    assert.ok(around.body.detail.includes(requestId), around.body.detail);
    assert.match(around.body.detail, /approve .* or reject/);
    assert.equal((await w.stripe.disputes.retrieve(b.stripe_dispute)).status, "needs_response");
    const res = await w.t.app.request(
      `/api/admin/approvals/${requestId}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {
        approval_hash: asked.body.approval.approval_hash,
      }),
    );
    const { approval } = await res.json();
    assert.equal(res.status, 200, JSON.stringify(approval));
    assert.equal(approval.status, "executed");
    const closed = await w.t.services.disputes.get(b.id);
    assert.equal(closed.status, "lost");
    assert.equal(closed.accept_request?.approval_id, requestId);
    assert.equal(closed.accept_request?.status, "executed");
    assert.equal(closed.accept_request?.requested_by, w.operator.id);
    assert.equal(closed.closing?.approval_id, requestId);
  });
});

Deno.test("after a rejected request, a direct accept keeps the request shown as the last one", async () => {
  await withRefundWorld(async (w) => {
    const customer = (await w.stripe.customers.create({ email: "rejected@example.com" })).id;
    const a = await disputeOf(w, customer, 30_000);
    const b = await disputeOf(w, customer, 30_000);
    const accept = (as: typeof w.operator, id: string) =>
      call(w, as, "POST", `/disputes/${id}/accept`, { note: "not worth fighting" }, true);
    assert.equal((await accept(w.operator, a.id)).status, 200);
    const asked = await accept(w.operator, b.id);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const res = await w.t.app.request(
      `/api/admin/approvals/${asked.body.approval.id}/reject`,
      jsonRequest("POST", otpHeaders(w.t, w.operator), { note: "withdrawn" }),
    );
    assert.equal(res.status, 200, await res.text());
    const direct = await accept(w.operator2, b.id);
    assert.equal(direct.status, 200, JSON.stringify(direct.body));
    assert.equal(direct.body.accept_request.approval_id, asked.body.approval.id);
    assert.equal(direct.body.accept_request.status, "rejected");
    assert.equal(direct.body.closing.approval_id, null);
  });
});

Deno.test("attack: one operator accepting many customers' disputes alone stops at the daily cap, as refunds do", async () => {
  await withRefundWorld(async (w) => {
    const accept = (id: string) =>
      call(w, w.operator, "POST", `/disputes/${id}/accept`, { note: "not worth fighting" }, true);
    const answers = [];
    for (let n = 0; n < 4; n++) {
      const customer = (await w.stripe.customers.create({ email: `c${n}@example.com` })).id;
      const d = await disputeOf(w, customer, 40_000); // each under the 500.00 threshold
      answers.push(await accept(d.id));
    }
    // the cap is 1,000.00 a day here: the third would pass it
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 202, 202]);
    assert.match(answers[2].body.approval.summary, /beyond the requester's daily cap/);
    // the emulator has one such card: the threshold is set out of the way to see the cap alone
  }, { env: { REFUND_DAILY_CAP_PER_OPERATOR: "100000", REFUND_APPROVAL_THRESHOLD: "1000000" } });
});

Deno.test("attack: one operator's accepts of guest disputes paid with one card add up toward the threshold", async () => {
  await withRefundWorld(async (w) => {
    const accept = (id: string) =>
      call(w, w.operator, "POST", `/disputes/${id}/accept`, { note: "not worth fighting" }, true);
    const a = await disputeOf(w, null, 30_000);
    const b = await disputeOf(w, null, 30_000);
    assert.equal(a.customer, null);
    assert.equal((await accept(a.id)).status, 200); // 300.00 alone: under 500.00
    const second = await accept(b.id); // 600.00 on one card in 24 h
    assert.equal(second.status, 202, JSON.stringify(second.body));
    // another card is another payer
    const c = await disputeOf(w, null, 30_000, "pm_card_createDisputeProductNotReceived");
    assert.equal((await accept(c.id)).status, 200);
  });
});
