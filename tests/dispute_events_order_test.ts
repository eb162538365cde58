import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { paymentStory, T0, testId } from "./helpers/stripe_objects.ts";
import { allLedgerEntries } from "../kv/customers.ts";
import type Stripe from "stripe";

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) =>
    permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])
  );
}

async function outcome(t: TestApp, pi: string, customer: string, du: string) {
  const d = await t.services.disputes.get(du);
  const txn = await t.services.transactions.get(pi);
  const ledger = await allLedgerEntries(t.kv, customer);
  return {
    record: [d.status, d.phase, d.submission_count, d.funds_withdrawn, d.funds_reinstated, d.fee],
    txn: [txn.amount_disputed, txn.dispute_status],
    ledger: ledger.map((e) => [e.type, e.amount]).sort(),
  };
}

function story(customer: string) {
  const s = paymentStory({ customer, amount: 8000 });
  const du = testId("du");
  const at = T0 + 86400;
  const base = { id: du, created: at };
  const events = {
    opened: s.dispute(at, "charge.dispute.created", { ...base, withdrawn: true }),
    withdrawn: s.dispute(at, "charge.dispute.funds_withdrawn", { ...base, withdrawn: true }),
    submitted: s.dispute(at + 3600, "charge.dispute.updated", {
      ...base,
      withdrawn: true,
      status: "under_review",
      submission_count: 1,
    }),
    won: s.dispute(at + 86400, "charge.dispute.closed", {
      ...base,
      withdrawn: true,
      reinstated: true,
      status: "won",
      submission_count: 1,
    }),
    reinstated: s.dispute(at + 86400, "charge.dispute.funds_reinstated", {
      ...base,
      withdrawn: true,
      reinstated: true,
      status: "won",
      submission_count: 1,
    }),
    lost: s.dispute(at + 86400, "charge.dispute.closed", {
      ...base,
      withdrawn: true,
      status: "lost",
      submission_count: 1,
    }),
  };
  return { s, du, events };
}

async function run(order: Stripe.Event[], setup: ReturnType<typeof story>, customer: string) {
  let result: Awaited<ReturnType<typeof outcome>> | null = null;
  await withTestApp(async (t) => {
    for (const e of [setup.s.created(T0), ...setup.s.succeeded(T0 + 1)]) {
      await t.services.stripeEvents.apply(e);
    }
    for (const e of order) await t.services.stripeEvents.apply(e);
    // and each once more, as Stripe redelivers
    for (const e of order) await t.services.stripeEvents.apply(e);
    result = await outcome(t, setup.s.pi, customer, setup.du);
  });
  return result!;
}

Deno.test("every order of a won dispute's events ends in the same record, transaction and ledger", async () => {
  const customer = "cus_DisputeOrderWon";
  const setup = story(customer);
  const e = setup.events;
  const all = permutations([e.opened, e.withdrawn, e.submitted, e.won, e.reinstated]);
  assert.equal(all.length, 120);
  const expected = {
    record: ["won", "won", 1, 8000, 8000, 0],
    txn: [0, "won"],
    ledger: [["dispute_reinstatement", 8000], ["dispute_withdrawal", -8000], ["payment", 8000]],
  };
  for (const order of all) assert.deepEqual(await run(order, setup, customer), expected);
});

Deno.test("every order of a lost dispute's events keeps the withdrawal; an inquiry takes nothing", async () => {
  const customer = "cus_DisputeOrderLost";
  const setup = story(customer);
  const e = setup.events;
  for (const order of permutations([e.opened, e.withdrawn, e.submitted, e.lost])) {
    assert.deepEqual(await run(order, setup, customer), {
      record: ["lost", "lost", 1, 8000, 0, 1500],
      txn: [8000, "lost"],
      ledger: [["dispute_withdrawal", -8000], ["payment", 8000]],
    });
  }
  const s = paymentStory({ customer: "cus_Inquiry", amount: 5000 });
  const du = testId("du");
  const inquiry = s.dispute(T0 + 10, "charge.dispute.created", {
    id: du,
    status: "warning_needs_response",
  });
  await withTestApp(async (t) => {
    for (const ev of [s.created(T0), ...s.succeeded(T0 + 1), inquiry]) {
      await t.services.stripeEvents.apply(ev);
    }
    const d = await t.services.disputes.get(du);
    assert.equal(d.status, "warning_needs_response");
    assert.equal(d.phase, "needs_response");
    const txn = await t.services.transactions.get(s.pi);
    assert.equal(txn.amount_disputed, 0);
    assert.deepEqual((await allLedgerEntries(t.kv, "cus_Inquiry")).map((l) => l.type), [
      "payment",
    ]);
  });
});

Deno.test("a dispute that arrives before its payment shows the customer once the payment is known", async () => {
  const s = paymentStory({ customer: "cus_LateBuyer", amount: 4000 });
  const du = testId("du");
  await withTestApp(async (t) => {
    await t.services.stripeEvents.apply(
      s.dispute(T0 + 5, "charge.dispute.created", { id: du, withdrawn: true }),
    );
    assert.equal((await t.services.disputes.get(du)).customer, null);
    for (const e of [s.created(T0), ...s.succeeded(T0 + 1)]) await t.services.stripeEvents.apply(e);
    const moved = await t.services.disputes.get(du);
    assert.equal(moved.customer, "cus_LateBuyer");
    // the charge-keyed stub merged into the payment: the dispute moved with it
    assert.equal(moved.transaction_id, (await t.services.transactions.get(s.pi)).id);
    const page = await t.services.disputes.list({ limit: 10, customer: "cus_LateBuyer" });
    assert.deepEqual(page.data.map((d) => d.stripe_dispute), [du]);
  });
});
