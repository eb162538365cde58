/**
 * For any interleaving of refund requests (some needing approval, some in
 * concurrent bursts), approvals and rejections, Stripe failing or dropping
 * answers, Dashboard refunds, webhooks delivered late / out of order / not
 * yet, and reconciliation runs: `amount_refunded ≤ amount` and
 * `amount_reserved ≥ 0` at every step, and once everything has settled the
 * local totals equal the emulator's to the cent.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { AppError } from "../core/errors.ts";
import { listTransactionRefunds } from "../kv/refunds.ts";
import { allLedgerEntries } from "../kv/customers.ts";
import type { RefundWorld } from "./helpers/refunds.ts";
import { approvalOf, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";

const PAID = 6000;
const THRESHOLD = 2500;

type Action =
  | { kind: "request"; amount: number | null; by: 0 | 1 }
  | { kind: "burst"; amounts: number[] }
  | { kind: "fault"; fault: "act_then_drop" | "server_error" }
  | { kind: "approve"; pick: number; by: 0 | 1 }
  | { kind: "reject"; pick: number }
  | { kind: "dashboard"; amount: number }
  | { kind: "webhooks"; seed: number; share: number }
  | { kind: "reconcile" };

const amount = fc.integer({ min: 1, max: 3500 });
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("request" as const),
      amount: fc.option(amount, { freq: 5 }),
      by: fc.constantFrom(0 as const, 1 as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("burst" as const),
      amounts: fc.array(amount, { minLength: 2, maxLength: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("fault" as const),
      fault: fc.constantFrom("act_then_drop" as const, "server_error" as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("approve" as const),
      pick: fc.nat(5),
      by: fc.constantFrom(0 as const, 1 as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reject" as const), pick: fc.nat(5) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("dashboard" as const),
      amount: fc.integer({ min: 1, max: 1500 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("webhooks" as const),
      seed: fc.nat(),
      share: fc.double({ min: 0.2, max: 1, noNaN: true }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("reconcile" as const) }) },
);

/**
 * Refusals the model allows: nothing left (here or, said by Stripe, there), a
 * decision already taken, Stripe unavailable or refusing.
 */
const EXPECTED = new Set([
  "amount_exceeds_refundable",
  "charge_not_refundable",
  "conflict",
  "self_approval_forbidden",
  "stripe_error",
]);

async function tolerate(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof AppError) || !EXPECTED.has(e.code)) throw e;
  }
}

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let x = seed || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function run(w: RefundWorld, txnId: string, piId: string, a: Action): Promise<void> {
  const ops = [w.operator, w.operator2];
  const refunds = w.t.services.refunds;
  const ask = (amt: number | null, by: 0 | 1) =>
    refunds.create(w.ctx(ops[by]), {
      transaction_id: txnId,
      ...(amt === null ? {} : { amount: amt }),
      reason: "requested_by_customer",
      note: "property",
      confirm_duplicate: true,
    });
  switch (a.kind) {
    case "request":
      return await tolerate(ask(a.amount, a.by));
    case "burst":
      await Promise.all(a.amounts.map((amt, i) => tolerate(ask(amt, (i % 2) as 0 | 1))));
      return;
    case "fault":
      w.emu.faults.inject({ kind: a.fault, method: "POST", path: "/v1/refunds" });
      return;
    case "approve":
    case "reject": {
      const waiting = (await refunds.list({ limit: 100, status: "awaiting_approval" })).data;
      if (waiting.length === 0) return;
      const target = waiting[a.pick % waiting.length];
      if (a.kind === "reject") {
        return await tolerate(refunds.reject(w.ctx(w.admin), target.id, { note: "no" }));
      }
      return await tolerate(
        refunds.approve(
          w.ctx(ops[a.kind === "approve" ? a.by : 0]),
          target.id,
          await approvalOf(w.t, target.id),
        ),
      );
    }
    case "dashboard":
      await w.stripe.refunds.create({ payment_intent: piId, amount: a.amount }).catch(() => {});
      return;
    case "webhooks":
      await w.deliver((held) => {
        const order = shuffled(held, a.seed);
        return order.slice(0, Math.ceil(order.length * a.share));
      });
      return;
    case "reconcile":
      await refunds.reconcile({ olderThanMs: 0 });
      return;
  }
}

async function checkInvariants(w: RefundWorld, txnId: string): Promise<void> {
  const txn = await w.t.services.transactions.get(txnId);
  assert.ok(txn.amount_refunded <= txn.amount, `refunded ${txn.amount_refunded} > ${txn.amount}`);
  assert.ok(txn.amount_reserved >= 0, `reserved ${txn.amount_reserved} < 0`);
  const records = await listTransactionRefunds(w.t.kv, txnId);
  const held = records.reduce((n, r) => n + r.reserved, 0);
  assert.equal(txn.amount_reserved, held, "the reservation is exactly what open refunds hold");
}

async function quiesce(w: RefundWorld): Promise<void> {
  w.emu.faults.clear();
  const refunds = w.t.services.refunds;
  for (const r of (await refunds.list({ limit: 100, status: "awaiting_approval" })).data) {
    await tolerate(refunds.reject(w.ctx(w.admin), r.id, { note: "closing" }));
  }
  for (let i = 0; i < 5; i++) {
    await w.deliver();
    await refunds.reconcile({ olderThanMs: 0 });
  }
  await w.deliver();
}

Deno.test("property: any interleaving keeps refunded ≤ amount, reserved ≥ 0, and ends equal to Stripe", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 3, maxLength: 14 }), async (actions) => {
      await withRefundWorld(async (w) => {
        const pay = await w.pay(PAID);
        for (const a of actions) {
          await run(w, pay.txnId, pay.pi.id, a);
          await checkInvariants(w, pay.txnId);
        }
        await quiesce(w);
        await checkInvariants(w, pay.txnId);
        const txn = await w.t.services.transactions.get(pay.txnId);
        const stripe = await stripeRefunds(w.stripe, pay.pi);
        const counted = stripe.refunds.filter((r) =>
          r.status !== "failed" && r.status !== "canceled"
        )
          .reduce((n, r) => n + r.amount, 0);
        assert.equal(stripe.amount_refunded, counted);
        assert.equal(txn.amount_refunded, stripe.amount_refunded, "local == Stripe");
        assert.equal(txn.amount_reserved, 0);
        const records = await listTransactionRefunds(w.t.kv, pay.txnId);
        const sent = records.filter((r) => r.stripe_refund !== null);
        assert.equal(sent.length, stripe.refunds.length, "one local record per Stripe refund");
        assert.ok(
          records.every((r) => r.status !== "processing" && r.status !== "awaiting_approval"),
        );
        const ledger = await allLedgerEntries(w.t.kv, pay.customer);
        const net = ledger.filter((e) => e.type === "refund" || e.type === "refund_reversal")
          .reduce((n, e) => n - e.amount, 0);
        assert.equal(net, stripe.amount_refunded, "ledger == Stripe");
      }, { env: { REFUND_APPROVAL_THRESHOLD: String(THRESHOLD) } });
    }),
    { numRuns: 15, endOnFailure: true },
  );
});
