/**
 * A moved evidence deadline end to end, through the real SDK and the emulator's own events
 * (README "Dispute workbench", Deadlines and Rehearsing disputes in demo mode): an inquiry
 * whose deadline passed, then escalated by the bank to a chargeback, and a chargeback whose
 * deadline Stripe extended. The dispute follows the new deadline (the overdue mark cleared,
 * the old reminders closed, the new one reminded), and the chargeback's withdrawal is in the
 * transaction, its customer's ledger and balance to the cent. tests/dispute_deadline_moves_test.ts
 * plays the same moves with events built by hand in every order.
 */
import assert from "node:assert/strict";
import { type HeldWebhook, type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, submitAs } from "./helpers/disputes.ts";
import { assertPaymentMatchesStripe } from "./helpers/stripe_truth.ts";
import { TEST_WEBHOOK_SECRETS } from "./helpers/webhooks.ts";
import { listAllOpsAlerts } from "../kv/ops_alerts.ts";
import { signPayload } from "../emulator/mod.ts";

const HOUR = 3600;
const DAY = 24 * HOUR;
const iso = (s: number) => new Date(s * 1000).toISOString();

/** Both clocks (ours and Stripe's, which follows it) at `s`; Stripe does what time makes it do. */
function at(w: RefundWorld, s: number) {
  w.clock.set(s * 1000);
  w.emu.advanceClock(0);
}

/**
 * Delivers the held webhooks (those `pick` returns) signed now: Stripe signs each delivery
 * attempt when it sends it, and the emulator signs by the host's clock while this world's
 * clock has moved days on (as tests/helpers/faults.ts `resign` does).
 */
async function deliver(w: RefundWorld, pick?: (held: HeldWebhook[]) => HeldWebhook[]) {
  const at = Math.floor(w.clock.now() / 1000);
  for (const h of await w.held()) {
    h.signature = await signPayload(h.body, TEST_WEBHOOK_SECRETS[0], at);
  }
  return w.deliver(pick);
}

/** Reminded at 72 h and 24 h before `due`, then overdue by our clock an hour after it. */
async function remindedThenOverdue(w: RefundWorld, due: number) {
  const d = w.t.services.disputes;
  at(w, due - 72 * HOUR + 60);
  assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
  at(w, due - 24 * HOUR + 60);
  assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
  at(w, due + HOUR);
  assert.deepEqual(await d.remind(), { reminded: 0, overdue: 1 });
}

/** The new deadline `due` is reminded at 72 h and 24 h: two open alerts naming it. */
async function remindedFor(w: RefundWorld, due: number) {
  const d = w.t.services.disputes;
  assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 }, "nothing until it nears");
  at(w, due - 72 * HOUR + 60);
  assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
  at(w, due - 24 * HOUR + 60);
  assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
  const open = (await listAllOpsAlerts(w.t.kv)).filter((a) => a.status === "open");
  assert.equal(open.length, 2);
  for (const a of open) assert.match(a.detail, new RegExp(iso(due)));
}

/** The old deadline's reminders: closed, their note naming the new deadline. */
async function oldRemindersClosed(w: RefundWorld, count: number, due: number) {
  const alerts = await listAllOpsAlerts(w.t.kv);
  assert.deepEqual(alerts.map((a) => a.status), Array(count).fill("closed"));
  for (const a of alerts) assert.match(a.close_note ?? "", new RegExp(iso(due)));
}

/** The payment's customer page: its balance in usd and the dispute lines of its ledger. */
async function customerMoney(w: RefundWorld, customer: string) {
  const res = await call(w, w.operator, "GET", `/customers/${customer}?limit=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const usd = res.body.balances.find((b: { currency: string }) => b.currency === "usd");
  const disputes = res.body.ledger.data
    .filter((e: { type: string }) => e.type.startsWith("dispute_"))
    .map((e: { type: string; amount: number }) => [e.type, e.amount]);
  return { balance: usd.amount, disputes };
}

Deno.test("an inquiry escalated to a chargeback after its deadline passed: a new deadline, reminded, and the funds withdrawn to the cent", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId, customer, dispute } = await disputedPayment(
      w,
      6000,
      "pm_card_createDisputeInquiry",
    );
    assert.equal(dispute.status, "warning_needs_response");
    assert.equal(dispute.funds_withdrawn, 0);
    const due1 = Date.parse(dispute.evidence_due_by!) / 1000;
    await remindedThenOverdue(w, due1);
    const d = w.t.services.disputes;
    assert.equal((await d.get(dispute.id)).overdue, true);
    assert.deepEqual(await customerMoney(w, customer), { balance: 6000, disputes: [] });

    // Stripe marks the inquiry past due, then the bank escalates it: a chargeback due 14 days on
    const due2 = due1 + HOUR + 14 * DAY;
    w.emu.escalateDispute(dispute.stripe_dispute, { due_by: due2 });
    const held = await w.held();
    assert.deepEqual(held.map((h) => h.type), [
      "charge.dispute.updated",
      "charge.dispute.updated",
      "charge.dispute.funds_withdrawn",
    ]);
    // delivered newest first, and twice: the same end
    await deliver(w, (all) => [...all].reverse().concat([...all].reverse()));

    const shown = await d.get(dispute.id);
    assert.equal(shown.status, "needs_response");
    assert.equal(shown.phase, "needs_response");
    assert.equal(shown.evidence_due_by, iso(due2));
    assert.equal(shown.past_due, false);
    assert.equal(shown.overdue, false, "the chargeback's deadline is ahead");
    assert.ok(shown.time_left_s! > 13 * DAY, `time left ${shown.time_left_s}`);
    assert.deepEqual(shown.reminders, {});
    assert.equal(shown.is_charge_refundable, false);
    assert.deepEqual([shown.funds_withdrawn, shown.funds_reinstated, shown.fee], [6000, 0, 1500]);
    assert.ok(shown.actions.includes("evidence"), `actions ${shown.actions}`);
    await oldRemindersClosed(w, 2, due2);

    // the withdrawal, to the cent: the transaction, the customer's ledger and balance
    const txn = await w.t.services.transactions.get(pi.id);
    assert.equal(txn.id, txnId);
    assert.deepEqual([txn.amount_disputed, txn.dispute_status], [6000, "needs_response"]);
    const p = { customer, pi: pi.id, charge: pi.latest_charge as string };
    await assertPaymentMatchesStripe(w.stripe, w.t, p);
    assert.deepEqual(await customerMoney(w, customer), {
      balance: 0,
      disputes: [["dispute_withdrawal", -6000]],
    });
    // a chargeback being decided: the refund is refused before anything is sent to Stripe
    const calls = w.emu.requests.total();
    const refund = await call(w, w.operator, "POST", "/refunds", {
      transaction_id: txnId,
      amount: 100,
      reason: "requested_by_customer",
      note: "goodwill",
    }, true);
    assert.equal(refund.status, 409, JSON.stringify(refund.body));
    assert.equal(refund.body.code, "charge_not_refundable");
    assert.equal(w.emu.requests.total(), calls);

    await remindedFor(w, due2);
    // the chargeback answered before its deadline: Stripe takes it, the reminders close
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada Lovelace",
      uncategorized_text: "Delivered and signed for",
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    const sent = await submitAs(w, w.operator, dispute.id);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    await deliver(w);
    const submitted = await d.get(dispute.id);
    assert.deepEqual([submitted.status, submitted.phase], ["under_review", "submitted"]);
    assert.equal((await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status, "under_review");
    const alerts = await listAllOpsAlerts(w.t.kv);
    assert.deepEqual(alerts.map((a) => a.status), ["closed", "closed", "closed", "closed"]);
    await assertPaymentMatchesStripe(w.stripe, w.t, p);
  });
});

Deno.test("a chargeback whose deadline Stripe extended after it passed: evidence again, reminded for the new deadline, no second withdrawal", async () => {
  await withRefundWorld(async (w) => {
    const { pi, customer, dispute } = await disputedPayment(w, 4200);
    const due1 = Date.parse(dispute.evidence_due_by!) / 1000;
    await remindedThenOverdue(w, due1);
    await deliver(w); // Stripe's past_due
    const d = w.t.services.disputes;
    const late = await d.get(dispute.id);
    assert.deepEqual([late.past_due, late.overdue], [true, true]);
    assert.deepEqual(late.actions, ["accept", "notes"]);

    // the extension, as the README's curl sends it
    const res = await fetch(`${w.emu.url}/_emulator/disputes/${dispute.stripe_dispute}/extend`, {
      method: "POST",
      body: JSON.stringify({ extend_seconds: 10 * DAY }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const due2 = due1 + 10 * DAY;
    assert.equal((await res.json()).evidence_details.due_by, due2);
    assert.deepEqual((await w.held()).map((h) => h.type), ["charge.dispute.updated"]);
    await deliver(w);

    const shown = await d.get(dispute.id);
    assert.equal(shown.status, "needs_response");
    assert.equal(shown.evidence_due_by, iso(due2));
    assert.deepEqual([shown.past_due, shown.overdue, shown.reminders], [false, false, {}]);
    assert.ok(shown.actions.includes("evidence"), `actions ${shown.actions}`);
    assert.deepEqual([shown.funds_withdrawn, shown.fee], [4200, 1500]);
    await oldRemindersClosed(w, 2, due2);
    const p = { customer, pi: pi.id, charge: pi.latest_charge as string };
    await assertPaymentMatchesStripe(w.stripe, w.t, p);
    assert.deepEqual(await customerMoney(w, customer), {
      balance: 0,
      disputes: [["dispute_withdrawal", -4200]],
    });

    await remindedFor(w, due2);
    // the new deadline passes too: Stripe and our clock say so, once
    at(w, due2 + 60);
    assert.deepEqual(await d.remind(), { reminded: 0, overdue: 1 });
    await deliver(w);
    assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 });
    const passed = await d.get(dispute.id);
    assert.deepEqual([passed.past_due, passed.overdue], [true, true]);
    assert.equal(passed.actions.includes("evidence"), false);
    await assertPaymentMatchesStripe(w.stripe, w.t, p);
  });
});
