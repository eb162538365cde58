/**
 * A dispute's evidence deadline can move: an inquiry (`warning_needs_response`) escalated to a
 * chargeback (`needs_response`) comes with its own `evidence_details.due_by`, and Stripe may
 * extend `due_by`. The overdue mark, the deadline reminders and the deadline shown follow the
 * new deadline (README "Dispute workbench", Deadlines), whatever order Stripe's events arrive
 * in and however often: an overdue dispute whose deadline moved ahead is no longer overdue,
 * its reminders of the old deadline close, and the new deadline is reminded and marked again.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { paymentStory, T0, testId } from "./helpers/stripe_objects.ts";
import { listAllOpsAlerts } from "../kv/ops_alerts.ts";

const HOUR = 3600;
const DAY = 24 * HOUR;
const iso = (s: number) => new Date(s * 1000).toISOString();

interface Moves {
  name: string;
  /** the dispute as first opened (its deadline `due1`) */
  opened: (due1: number) => Record<string, unknown>;
  /** the dispute as it stands once the deadline moved to `due2` */
  moved: Record<string, unknown>;
}

const MOVES: Moves[] = [
  {
    name: "an inquiry escalated to a chargeback",
    opened: () => ({ status: "warning_needs_response" }),
    moved: { status: "needs_response", withdrawn: true },
  },
  {
    name: "a chargeback whose deadline Stripe extended",
    opened: () => ({ status: "needs_response", withdrawn: true }),
    moved: { status: "needs_response", withdrawn: true },
  },
];

/** The dispute opened and reminded, then overdue by our clock; the two events still to come. */
async function overdueDispute(t: TestApp, m: Moves) {
  const s = paymentStory({ customer: "cus_DeadlineMoves", amount: 6000 });
  const du = testId("du");
  const opened = T0 + 10;
  const due1 = opened + 7 * DAY;
  for (const e of [s.created(T0), ...s.succeeded(T0 + 1)]) await t.services.stripeEvents.apply(e);
  await t.services.stripeEvents.apply(
    s.dispute(opened, "charge.dispute.created", { id: du, created: opened, ...m.opened(due1) }),
  );
  const d = t.services.disputes;
  t.clock.set((due1 - 72 * HOUR + 60) * 1000);
  assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
  t.clock.set((due1 - 24 * HOUR + 60) * 1000);
  assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
  t.clock.set((due1 + HOUR) * 1000);
  assert.deepEqual(await d.remind(), { reminded: 0, overdue: 1 });
  const before = await d.get(du);
  assert.equal(before.overdue, true);
  assert.equal((await listAllOpsAlerts(t.kv)).filter((a) => a.status === "open").length, 2);
  // Stripe marks the old deadline past due, then moves it 14 days on (a later event)
  const due2 = due1 + 14 * DAY;
  const pastDue = s.dispute(due1 + 60, "charge.dispute.updated", {
    id: du,
    created: opened,
    ...m.opened(due1),
    due_by: due1,
    past_due: true,
  });
  const moveTo = (due: number) =>
    s.dispute(due1 + 2 * HOUR, "charge.dispute.updated", {
      id: du,
      created: opened,
      ...m.moved,
      due_by: due,
    });
  return { du, id: before.id, due1, due2, pastDue, moved: moveTo(due2), moveTo };
}

async function deliver(t: TestApp, events: Stripe.Event[]) {
  for (const e of events) await t.services.stripeEvents.apply(e);
}

for (const m of MOVES) {
  for (const reversed of [false, true]) {
    Deno.test(`${m.name}, delivered ${reversed ? "newest first" : "in order"} and twice: the deadline follows`, async () => {
      await withTestApp(async (t) => {
        const w = await overdueDispute(t, m);
        const order = reversed ? [w.moved, w.pastDue] : [w.pastDue, w.moved];
        await deliver(t, [...order, ...order]);
        t.clock.set((w.due1 + 3 * HOUR) * 1000);
        const d = t.services.disputes;
        const shown = await d.get(w.du);
        assert.equal(shown.status, m.moved.status);
        assert.equal(shown.evidence_due_by, iso(w.due2));
        assert.equal(shown.past_due, false);
        assert.equal(shown.overdue, false, "the new deadline is ahead: not overdue");
        assert.ok(shown.time_left_s! > 13 * DAY, `time left: ${shown.time_left_s}`);
        assert.ok(shown.actions.includes("evidence"), `actions: ${shown.actions}`);
        assert.deepEqual(shown.reminders, {});
        const line = shown.history.findLast((h) => h.changes.evidence_due_by !== undefined)!;
        assert.deepEqual(
          [line.by, line.changes.evidence_due_by, line.changes.overdue, line.changes.reminders],
          ["stripe", iso(w.due2), false, {}],
        );
        // the listing by deadline finds it under the new one, not the old
        const soon = await d.list({ limit: 10, due_before: (w.due1 + DAY) * 1000 });
        assert.deepEqual(soon.data.map((r) => r.id), []);
        const later = await d.list({ limit: 10, due_before: (w.due2 + 1) * 1000 });
        assert.deepEqual(later.data.map((r) => [r.id, r.overdue]), [[w.id, false]]);
        // the reminders of the old deadline closed, saying why
        const old = await listAllOpsAlerts(t.kv);
        assert.deepEqual(old.map((a) => a.status), ["closed", "closed"]);
        for (const a of old) assert.match(a.close_note ?? "", new RegExp(iso(w.due2)));
        // nothing to do until the new deadline nears
        assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 });
        t.clock.set((w.due2 - 72 * HOUR + 60) * 1000);
        assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
        t.clock.set((w.due2 - 24 * HOUR + 60) * 1000);
        assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
        const fresh = (await listAllOpsAlerts(t.kv)).filter((a) => a.status === "open");
        assert.equal(fresh.length, 2);
        for (const a of fresh) assert.match(a.detail, new RegExp(iso(w.due2)));
        // the new deadline passes: overdue again, once
        t.clock.set((w.due2 + 60) * 1000);
        assert.deepEqual(await d.remind(), { reminded: 0, overdue: 1 });
        assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 });
        const late = await d.get(w.du);
        assert.equal(late.overdue, true);
        assert.deepEqual(late.actions.includes("evidence"), false);
        // the old events again change nothing
        await deliver(t, [w.pastDue, w.moved]);
        assert.equal((await d.get(w.du)).overdue, true);
      });
    });
  }
}

Deno.test("a deadline moved but already past by our clock stays overdue", async () => {
  await withTestApp(async (t) => {
    const w = await overdueDispute(t, MOVES[1]);
    await deliver(t, [w.moveTo(w.due1 + 60)]);
    const shown = await t.services.disputes.get(w.du);
    assert.equal(shown.evidence_due_by, iso(w.due1 + 60));
    assert.equal(shown.overdue, true);
    assert.equal(shown.actions.includes("evidence"), false);
    assert.deepEqual(await t.services.disputes.remind(), { reminded: 0, overdue: 0 });
  });
});

Deno.test("an inquiry answered, then escalated: the chargeback's deadline is reminded afresh", async () => {
  await withTestApp(async (t) => {
    const s = paymentStory({ customer: "cus_InquiryAnswered", amount: 6000 });
    const du = testId("du");
    const opened = T0 + 10;
    const due1 = opened + 7 * DAY;
    const inquiry = { id: du, created: opened, status: "warning_needs_response" as const };
    for (const e of [s.created(T0), ...s.succeeded(T0 + 1)]) await t.services.stripeEvents.apply(e);
    await t.services.stripeEvents.apply(s.dispute(opened, "charge.dispute.created", inquiry));
    const d = t.services.disputes;
    t.clock.set((due1 - 72 * HOUR + 60) * 1000);
    assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
    // the inquiry answered: its reminder closes
    await t.services.stripeEvents.apply(
      s.dispute(due1 - 60 * HOUR, "charge.dispute.updated", {
        ...inquiry,
        status: "warning_under_review",
        submission_count: 1,
      }),
    );
    assert.deepEqual((await listAllOpsAlerts(t.kv)).map((a) => a.status), ["closed"]);
    // escalated to a chargeback with its own deadline
    const due2 = due1 + 20 * DAY;
    const escalated = s.dispute(due1 + DAY, "charge.dispute.updated", {
      ...inquiry,
      status: "needs_response",
      withdrawn: true,
      submission_count: 1,
      due_by: due2,
    });
    await deliver(t, [escalated, escalated]);
    const shown = await d.get(du);
    assert.equal(shown.phase, "needs_response");
    assert.equal(shown.evidence_due_by, iso(due2));
    assert.deepEqual(shown.reminders, {});
    t.clock.set((due2 - 72 * HOUR + 60) * 1000);
    assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
    const open = (await listAllOpsAlerts(t.kv)).filter((a) => a.status === "open");
    assert.equal(open.length, 1);
    assert.match(open[0].detail, new RegExp(iso(due2)));
  });
});
