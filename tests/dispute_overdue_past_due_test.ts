/**
 * `overdue` follows Stripe's `past_due` too (README "Dispute workbench", Deadlines): once
 * Stripe marks the evidence past due the dispute is overdue, whatever this service's clock
 * reads, in every order its events arrive; a dispute decided since is not.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import type { HeldWebhook, RefundWorld } from "./helpers/refunds.ts";
import { waitingFor } from "./helpers/waiting.ts";

const DAY = 86_400;

/** The dispute the test card opens at Stripe, once the emulator has opened it. */
async function openedAtStripe(w: RefundWorld, pi: string) {
  for (;;) {
    await w.emu.deliveries();
    const [du] = (await w.stripe.disputes.list({ payment_intent: pi })).data;
    if (du) return du;
    await new Promise((r) => setTimeout(r, 10));
  }
}
type Order = (held: HeldWebhook[]) => HeldWebhook[];
const inOrder: Order = (held) => held;
const reversed: Order = (held) => [...held].reverse();

Deno.test("Stripe's past_due marks the dispute overdue while our clock still shows days left", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    assert.equal(dispute.overdue, false);
    w.emu.advanceClock(7 * DAY + 1);
    await w.deliver();
    const shown = await call(w, w.operator, "GET", `/disputes/${dispute.id}`);
    assert.equal(shown.body.past_due, true);
    assert.equal(shown.body.overdue, true);
    const row = (await call(w, w.operator, "GET", "/disputes")).body.data[0];
    assert.equal(row.overdue, true);
    // the reminder job, on our clock a day before the deadline, raises no "due soon" alert
    w.clock.set(Date.parse(dispute.evidence_due_by!) - DAY * 1000 + 60_000);
    await w.t.services.disputes.remind();
    const after = await w.t.services.disputes.get(dispute.id);
    assert.equal(after.overdue, true);
    assert.deepEqual(after.reminders, {});
  });
});

for (const [name, order] of [["in order", inOrder], ["reversed", reversed]] as const) {
  Deno.test(`past_due then lost, delivered ${name}: overdue ends false`, async () => {
    await withRefundWorld(async (w) => {
      const { dispute } = await disputedPayment(w);
      w.emu.advanceClock(7 * DAY + 1);
      w.emu.resolveDispute(dispute.stripe_dispute, "lost");
      await w.deliver(order);
      const shown = await w.t.services.disputes.get(dispute.id);
      assert.equal(shown.status, "lost");
      assert.equal(shown.overdue, false);
    });
  });

  Deno.test(`opened and marked past_due, delivered ${name}: overdue ends true`, async () => {
    await withRefundWorld(async (w) => {
      // the payment and its dispute at Stripe, none of their events delivered yet
      const pi = await w.stripe.paymentIntents.create({
        amount: 4200,
        currency: "usd",
        payment_method: "pm_card_createDispute",
        confirm: true,
      });
      // the emulator opens the dispute just after the payment: its deadline runs from then
      const du = await waitingFor("the dispute at Stripe", openedAtStripe(w, pi.id));
      w.emu.advanceClock(7 * DAY + 1);
      await w.deliver(order);
      const shown = await w.t.services.disputes.get(du.id);
      assert.equal(shown.past_due, true);
      assert.equal(shown.overdue, true);
    });
  });
}
