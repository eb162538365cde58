/**
 * The emulator's test controls that move a dispute's deadline (README "Dispute workbench",
 * Rehearsing disputes in demo mode): an inquiry escalated to a chargeback
 * (`POST /_emulator/disputes/{id}/escalate`) and a deadline extended
 * (`POST /_emulator/disputes/{id}/extend`), each answering the dispute and emitting the events
 * Stripe sends, shaped like the SDK's types.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator } from "./helpers/emulator.ts";
import { assertEventShape, assertShape } from "./fixtures/stripe_shapes.ts";
import type { Emulator } from "../emulator/mod.ts";
import { emulatorDispute } from "./helpers/disputes.ts";

const DAY = 24 * 3600;
const START = Date.UTC(2030, 0, 1);
const T = START / 1000;

const disputed = emulatorDispute;

/** A control endpoint called as curl would: the status and the parsed body. */
async function control(emu: Emulator, path: string, body: unknown) {
  const res = await fetch(`${emu.url}/_emulator/${path}`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** The dispute's events, oldest first. */
async function eventsOf(stripe: Stripe, id: string) {
  const all = (await stripe.events.list({ limit: 100 })).data.reverse();
  const mine = all.filter((e) => (e.data.object as { id: string }).id === id);
  for (const e of mine) assertEventShape(e);
  return mine;
}

function invalid(pattern: RegExp) {
  return (e: Stripe.errors.StripeError) =>
    e instanceof Stripe.errors.StripeInvalidRequestError && pattern.test(e.message);
}

Deno.test("escalate: an overdue inquiry becomes a chargeback with a new deadline and its funds withdrawn", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { pi, dispute } = await disputed(stripe, emu, "pm_card_createDisputeInquiry");
    assert.equal(dispute.status, "warning_needs_response");
    assert.deepEqual(dispute.balance_transactions, []);
    emu.advanceClock(7 * DAY + 60);
    assert.equal((await stripe.disputes.retrieve(dispute.id)).evidence_details.past_due, true);
    const due = T + 7 * DAY + 60 + 14 * DAY;
    const res = await control(emu, `disputes/${dispute.id}/escalate`, { due_by: due });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const escalated = await stripe.disputes.retrieve(dispute.id);
    assert.deepEqual(res.body, escalated, "the control answers the dispute as it now is");
    assertShape(escalated);
    assert.equal(escalated.status, "needs_response");
    assert.equal(escalated.is_charge_refundable, false);
    assert.equal(escalated.payment_method_details?.card?.case_type, "chargeback");
    assert.deepEqual(escalated.evidence_details, {
      ...dispute.evidence_details,
      due_by: due,
      past_due: false,
    });
    const [withdrawal] = escalated.balance_transactions;
    assert.equal(escalated.balance_transactions.length, 1);
    assert.deepEqual([withdrawal.amount, withdrawal.fee, withdrawal.net], [-4200, 1500, -5700]);
    assert.equal(withdrawal.source, dispute.id);
    assert.equal(withdrawal.reporting_category, "dispute");
    assertShape(await stripe.balanceTransactions.retrieve(withdrawal.id));

    const events = await eventsOf(stripe, dispute.id);
    assert.deepEqual(events.map((e) => e.type), [
      "charge.dispute.created",
      "charge.dispute.updated", // past due
      "charge.dispute.updated", // escalated
      "charge.dispute.funds_withdrawn",
    ]);
    const update = events[2] as Stripe.ChargeDisputeUpdatedEvent;
    assert.deepEqual(update.data.object, escalated);
    assert.deepEqual(update.data.previous_attributes, {
      balance_transactions: [],
      evidence_details: { ...dispute.evidence_details, past_due: true },
      is_charge_refundable: true,
      payment_method_details: {
        ...dispute.payment_method_details,
        card: { ...dispute.payment_method_details!.card!, case_type: "inquiry" },
      },
      status: "warning_needs_response",
    });
    assert.deepEqual(events[3].data.object, escalated);
    // a chargeback: no refund any more, evidence again until the new deadline
    await assert.rejects(
      stripe.refunds.create({ payment_intent: pi.id }),
      (e: Stripe.errors.StripeError) => e.code === "charge_disputed",
    );
    const answered = await stripe.disputes.update(dispute.id, { evidence: { customer_name: "A" } });
    assert.equal(answered.status, "under_review");
  }, { now: () => START });
});

Deno.test("escalate: an answered inquiry keeps its evidence and count; the default deadline is 7 days on", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputed(stripe, emu, "pm_card_createDisputeInquiry");
    await stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: "Delivered" } });
    emu.advanceClock(3 * DAY);
    const escalated = emu.escalateDispute(dispute.id);
    assert.equal(escalated.status, "needs_response");
    assert.equal(escalated.evidence.uncategorized_text, "Delivered");
    assert.equal(escalated.evidence_details.due_by, T + 10 * DAY);
    assert.equal(escalated.evidence_details.has_evidence, true);
    assert.equal(escalated.evidence_details.submission_count, 1);
    assert.equal(escalated.evidence_details.submission_method, "manual");
    const again = await stripe.disputes.update(dispute.id, { evidence: { customer_name: "A" } });
    assert.equal(again.evidence_details.submission_count, 2);
    // a won chargeback gives the funds back once
    const won = emu.resolveDispute(dispute.id, "won");
    assert.deepEqual(won.balance_transactions.map((b: { amount: number }) => b.amount), [
      -4200,
      4200,
    ]);
  }, { now: () => START });
});

Deno.test("escalate: refused for a chargeback, a closed inquiry, a past deadline, an unknown dispute", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const chargeback = await disputed(stripe, emu, "pm_card_createDispute");
    const refused = await control(emu, `disputes/${chargeback.dispute.id}/escalate`, {});
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /is needs_response: only an open inquiry/);
    const inquiry = await disputed(stripe, emu, "pm_card_createDisputeInquiry");
    const past = await control(emu, `disputes/${inquiry.dispute.id}/escalate`, { due_by: T });
    assert.equal(past.status, 400);
    assert.equal(past.body.error.param, "due_by");
    const text = await control(emu, `disputes/${inquiry.dispute.id}/escalate`, { due_by: "x" });
    assert.deepEqual([text.status, text.body.error.param], [400, "due_by"]);
    await stripe.disputes.close(inquiry.dispute.id);
    assert.throws(() => emu.escalateDispute(inquiry.dispute.id), /warning_closed/);
    const missing = await control(emu, "disputes/du_nope/escalate", {});
    assert.equal(missing.status, 404);
    // nothing moved: no event beyond the ones already made
    assert.deepEqual((await eventsOf(stripe, inquiry.dispute.id)).map((e) => e.type), [
      "charge.dispute.created",
      "charge.dispute.closed",
    ]);
  }, { now: () => START });
});

Deno.test("extend: a past-due chargeback's deadline moves on, past_due clears, and passes again", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputed(stripe, emu, "pm_card_createDispute");
    const due1 = dispute.evidence_details.due_by!;
    emu.advanceClock(7 * DAY + 60);
    await assert.rejects(
      stripe.disputes.update(dispute.id, { evidence: { customer_name: "A" } }),
      invalid(/deadline/),
    );
    const res = await control(emu, `disputes/${dispute.id}/extend`, { extend_seconds: 5 * DAY });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const extended = await stripe.disputes.retrieve(dispute.id);
    assertShape(extended);
    assert.deepEqual(extended.evidence_details, {
      ...dispute.evidence_details,
      due_by: due1 + 5 * DAY,
      past_due: false,
    });
    assert.equal(extended.status, "needs_response");
    assert.equal(extended.balance_transactions.length, 1, "no second withdrawal");
    const events = await eventsOf(stripe, dispute.id);
    const last = events.at(-1) as Stripe.ChargeDisputeUpdatedEvent;
    assert.equal(last.type, "charge.dispute.updated");
    assert.deepEqual(last.data.previous_attributes, {
      evidence_details: { ...dispute.evidence_details, past_due: true },
    });
    // staged evidence is taken again until the new deadline, which Stripe marks once passed
    await stripe.disputes.update(dispute.id, { evidence: { customer_name: "A" }, submit: false });
    emu.advanceClock(5 * DAY);
    assert.equal((await stripe.disputes.retrieve(dispute.id)).evidence_details.past_due, true);
    // an extension to a time already past leaves it past due
    const late = emu.extendDisputeDeadline(dispute.id, due1 + 5 * DAY + 30);
    assert.equal(late.evidence_details.past_due, true);
  }, { now: () => START });
});

Deno.test("extend: refused for an earlier deadline, both or neither parameter, a dispute not waiting for evidence", async () => {
  await withEmulator(async ({ stripe, emu }) => {
    const { dispute } = await disputed(stripe, emu, "pm_card_createDisputeInquiry");
    const due = dispute.evidence_details.due_by!;
    const cases: [unknown, string][] = [
      [{ due_by: due }, "due_by"],
      [{ due_by: due - 1 }, "due_by"],
      [{}, "due_by"],
      [{ due_by: due + DAY, extend_seconds: DAY }, "extend_seconds"],
      [{ extend_seconds: 0 }, "extend_seconds"],
      [{ extend_seconds: 1.5 }, "extend_seconds"],
    ];
    for (const [body, param] of cases) {
      const res = await control(emu, `disputes/${dispute.id}/extend`, body);
      assert.deepEqual([res.status, res.body.error.param], [400, param], JSON.stringify(body));
    }
    // an inquiry's deadline extends too
    const inquiry = emu.extendDisputeDeadline(dispute.id, due + DAY);
    assert.deepEqual([inquiry.status, inquiry.evidence_details.due_by], [
      "warning_needs_response",
      due + DAY,
    ]);
    await stripe.disputes.update(dispute.id, { evidence: { customer_name: "A" } });
    const review = await control(emu, `disputes/${dispute.id}/extend`, { extend_seconds: DAY });
    assert.equal(review.status, 400);
    assert.match(review.body.error.message, /warning_under_review: only a dispute waiting/);
    const missing = await control(emu, "disputes/du_nope/extend", { due_by: due + DAY });
    assert.equal(missing.status, 404);
  }, { now: () => START });
});
