/**
 * Snapshots of one dispute from the same second (README "Dispute workbench": `has_evidence`
 * and every field Stripe owns stay Stripe's own word, "an older snapshot never moves a dispute
 * back"). Stripe's dispute carries no updated-at and its events only a `created` in whole
 * seconds, so two evidence saves staged in one second, or a save and a deadline Stripe moved
 * in that second, cannot be ordered by time. Played through the real SDK and the emulator on
 * a clock that stands still: the stage answers, then their webhooks in every order, twice,
 * and an older event arriving last; the dispute must end as Stripe has it.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type HeldWebhook, type RefundWorld, withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";

const DAY = 24 * 3600;

type Order = (held: HeldWebhook[]) => HeldWebhook[];

const ORDERS: [string, Order][] = [
  ["as sent", (h) => h],
  ["newest first", (h) => [...h].reverse()],
  ["twice", (h) => [...h, ...h]],
  ["newest first, then again as sent", (h) => [...h].reverse().concat(h)],
];

const iso = (s: number | null | undefined) => s ? new Date(s * 1000).toISOString() : null;

/** The dispute as the app's route shows it equals Stripe's object on every field Stripe owns. */
async function assertAsStripe(w: RefundWorld, id: string, du: string, label: string) {
  const truth: Stripe.Dispute = await w.stripe.disputes.retrieve(du);
  const res = await call(w, w.operator, "GET", `/disputes/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const d = res.body;
  const ev = truth.evidence_details;
  assert.deepEqual(
    {
      status: d.status,
      has_evidence: d.has_evidence,
      evidence_due_by: d.evidence_due_by,
      past_due: d.past_due,
      submission_count: d.submission_count,
      is_charge_refundable: d.is_charge_refundable,
    },
    {
      status: truth.status,
      has_evidence: ev.has_evidence,
      evidence_due_by: iso(ev.due_by),
      past_due: ev.past_due,
      submission_count: ev.submission_count,
      is_charge_refundable: truth.is_charge_refundable,
    },
    `${label}: the dispute as Stripe has it`,
  );
}

async function save(w: RefundWorld, id: string, draft: Record<string, string>) {
  const res = await call(w, w.operator, "PUT", `/disputes/${id}/evidence`, draft);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** A disputed payment, delivered, with both clocks (ours and Stripe's) at a whole second. */
async function openDispute(w: RefundWorld) {
  const { dispute } = await disputedPayment(w);
  w.clock.set(Math.ceil(w.clock.now() / 1000) * 1000 + 1000);
  return dispute;
}

for (const [name, order] of ORDERS) {
  Deno.test(`two evidence saves in one second, their webhooks ${name}: has_evidence is Stripe's`, async () => {
    await withRefundWorld(async (w) => {
      const dispute = await openDispute(w);
      const filled = await save(w, dispute.id, { customer_name: "Z1" });
      assert.equal(filled.has_evidence, true);
      const emptied = await save(w, dispute.id, {});
      await assertAsStripe(w, dispute.id, dispute.stripe_dispute, "after the stage answers");
      assert.equal(emptied.has_evidence, false, "the second save's answer is the newer one");
      const held = await w.held();
      assert.deepEqual(held.map((h) => h.type), Array(2).fill("charge.dispute.updated"));
      await w.deliver(order);
      await assertAsStripe(w, dispute.id, dispute.stripe_dispute, `webhooks ${name}`);
      // the emptied draft, as a later read shows it: nothing to correct
      const synced = await w.t.services.disputes.sync(w.ctx(w.operator), dispute.stripe_dispute);
      assert.equal(synced.changed, 0, "the sync found nothing to correct");
    });
  });

  Deno.test(`a deadline Stripe extended in the second of two saves, webhooks ${name}: Stripe's deadline and evidence`, async () => {
    await withRefundWorld(async (w) => {
      const dispute = await openDispute(w);
      const due = Date.parse(dispute.evidence_due_by!) / 1000;
      await save(w, dispute.id, { customer_name: "Z1" });
      w.emu.extendDisputeDeadline(dispute.stripe_dispute, due + 10 * DAY);
      await save(w, dispute.id, {});
      await assertAsStripe(w, dispute.id, dispute.stripe_dispute, "after the stage answers");
      await w.deliver(order);
      await assertAsStripe(w, dispute.id, dispute.stripe_dispute, `webhooks ${name}`);
      assert.equal(
        (await w.t.services.disputes.get(dispute.id)).evidence_due_by,
        iso(due + 10 * DAY),
      );
    });
  });

  Deno.test(`a deadline Stripe extended in the second after a save was staged, webhooks ${name}: the new deadline`, async () => {
    await withRefundWorld(async (w) => {
      const dispute = await openDispute(w);
      const due = Date.parse(dispute.evidence_due_by!) / 1000;
      await save(w, dispute.id, { customer_name: "Z1" });
      w.emu.extendDisputeDeadline(dispute.stripe_dispute, due + 10 * DAY);
      await w.deliver(order);
      await assertAsStripe(w, dispute.id, dispute.stripe_dispute, `webhooks ${name}`);
      assert.equal(
        (await w.t.services.disputes.get(dispute.id)).evidence_due_by,
        iso(due + 10 * DAY),
      );
    });
  });
}

Deno.test("an older dispute event arriving after two saves of a later second, and everything again: nothing moves back", async () => {
  await withRefundWorld(async (w) => {
    const dispute = await openDispute(w);
    await save(w, dispute.id, { customer_name: "Early", uncategorized_text: "first" });
    const early = await w.held();
    assert.equal(early.length, 1);
    w.clock.advance(1000);
    await save(w, dispute.id, { customer_name: "Z1" });
    await save(w, dispute.id, {});
    const later = (await w.held()).filter((h) => !early.includes(h));
    assert.equal(later.length, 2);
    await w.deliver(() => [...later].reverse());
    await assertAsStripe(w, dispute.id, dispute.stripe_dispute, "the later second's webhooks");
    // the older second's event, late; then every webhook again, newest first
    await w.deliver(() => early);
    await assertAsStripe(w, dispute.id, dispute.stripe_dispute, "the older event, late");
    await w.deliver(() => [...early, ...later].reverse());
    await assertAsStripe(w, dispute.id, dispute.stripe_dispute, "everything again");
    assert.equal((await w.t.services.disputes.get(dispute.id)).has_evidence, false);
  });
});

Deno.test("a stage answer applied after Stripe's deadline extension of the same second arrived: the new deadline stays", async () => {
  // Stripe stages the draft, then extends the deadline in the same second; the extension's
  // webhook is applied before the stage's answer is (a slow answer): only Stripe can order them.
  let late: (() => Promise<void>) | null = null;
  await withRefundWorld(async (w) => {
    const dispute = await openDispute(w);
    const due = Date.parse(dispute.evidence_due_by!) / 1000;
    late = async () => {
      late = null;
      w.emu.extendDisputeDeadline(dispute.stripe_dispute, due + 10 * DAY);
      await w.deliver();
    };
    const saved = await save(w, dispute.id, { customer_name: "Z1" });
    assert.equal(late, null, "the extension came before the stage answer was applied");
    assert.equal(saved.evidence_due_by, iso(due + 10 * DAY));
    await assertAsStripe(w, dispute.id, dispute.stripe_dispute, "the stage answer, late");
    await w.deliver((h) => [...h, ...h].reverse());
    await assertAsStripe(w, dispute.id, dispute.stripe_dispute, "its webhook");
  }, {
    intercept: (gateway) => ({
      async call(fn, options) {
        const answer = await gateway.call(fn, options);
        if (options?.label === "disputes.update(submit=false)" && late) await late();
        return answer;
      },
    }),
  });
});
