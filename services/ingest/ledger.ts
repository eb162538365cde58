/**
 * The customer ledger. What a transaction should have put on its customer's
 * ledger is a function of its snapshots (paid, each refund counted or not,
 * dispute funds taken and given back); `posted` remembers what it did put.
 * Each change appends the difference as entries and moves the balance by
 * their sum, in the commit that changes the transaction, so the balance is
 * always the sum of the entries and nothing is posted twice.
 */
import type { IdFactory } from "../../core/ids.ts";
import { addLedgerEntry } from "../../kv/customers.ts";
import type { CustomerAggregates, LedgerEntry, LedgerEntryType } from "../../domain/customer.ts";
import { paidAmount } from "./derive.ts";
import { refundCounts } from "./snapshots.ts";
import type { Postings, Transaction, TxnSync } from "../../domain/transaction.ts";

export type { CustomerBalance, LedgerEntry, LedgerEntryType } from "../../domain/customer.ts";

export interface PostingLine {
  type: LedgerEntryType;
  amount: number;
  stripe_object: string;
}

export interface PostingPlan {
  customer: string | null;
  currency: string | null;
  lines: PostingLine[];
  posted: Postings;
}

/**
 * The entries that bring the ledger to what `sync` says. Nothing is posted
 * while the customer is unknown (a guest payment, or a stub); it all is, once
 * known. A transaction stays on the ledger of the customer it was first posted to.
 */
export function planPostings(sync: TxnSync, txn: Transaction): PostingPlan {
  const customer = sync.posted.customer ?? txn.customer;
  const currency = sync.posted.currency ?? (txn.currency || null);
  if (!customer || !currency) return { customer, currency, lines: [], posted: sync.posted };
  const posted: Postings = {
    ...sync.posted,
    refunds: { ...sync.posted.refunds },
    withdrawn: { ...sync.posted.withdrawn },
    reinstated: { ...sync.posted.reinstated },
  };
  posted.customer = customer;
  posted.currency = currency;
  const lines: PostingLine[] = [];

  const paid = paidAmount(sync);
  if (paid !== posted.payment) {
    lines.push({
      type: "payment",
      amount: paid - posted.payment,
      stripe_object: txn.stripe_charge ?? txn.stripe_payment_intent ?? txn.id,
    });
    posted.payment = paid;
  }
  for (const r of Object.values(sync.refunds)) {
    const want = refundCounts(r.status) ? r.amount : 0;
    const have = posted.refunds[r.id] ?? 0;
    if (want > have) lines.push({ type: "refund", amount: -(want - have), stripe_object: r.id });
    if (want < have) {
      lines.push({ type: "refund_reversal", amount: have - want, stripe_object: r.id });
    }
    if (want) posted.refunds[r.id] = want;
    else delete posted.refunds[r.id];
  }
  for (const d of Object.values(sync.disputes)) {
    const took = posted.withdrawn[d.id] ?? 0;
    if (d.withdrawn > took) {
      lines.push({
        type: "dispute_withdrawal",
        amount: -(d.withdrawn - took),
        stripe_object: d.id,
      });
      posted.withdrawn[d.id] = d.withdrawn;
    }
    const gave = posted.reinstated[d.id] ?? 0;
    if (d.reinstated > gave) {
      lines.push({
        type: "dispute_reinstatement",
        amount: d.reinstated - gave,
        stripe_object: d.id,
      });
      posted.reinstated[d.id] = d.reinstated;
    }
  }
  return { customer, currency, lines, posted };
}

/**
 * Adds the plan's entries to `op` and moves the balance in `counters` (the
 * customer's counters record, a copy the caller writes back, checked as read,
 * in the same op: a checked read-modify-write, as `Deno.KvU64` cannot go
 * negative). The entries added, none when the plan has no lines.
 */
export function addPostings(
  op: Deno.AtomicOperation,
  plan: PostingPlan,
  counters: CustomerAggregates,
  ctx: { transactionId: string; newId: IdFactory; now: number },
): LedgerEntry[] {
  const { customer, currency, lines } = plan;
  if (!customer || !currency || lines.length === 0) return [];
  if (counters.customer !== customer) {
    throw new Error(`addPostings got the counters of ${counters.customer}, not ${customer}`);
  }
  const at = new Date(ctx.now).toISOString();
  const entries: LedgerEntry[] = lines.map((l) => ({
    id: ctx.newId("led"),
    customer,
    type: l.type,
    amount: l.amount,
    currency,
    transaction_id: ctx.transactionId,
    stripe_object: l.stripe_object,
    at,
  }));
  for (const e of entries) addLedgerEntry(op, e);
  const before = counters.balances?.[currency];
  counters.balances = {
    ...counters.balances,
    [currency]: {
      amount: (before?.amount ?? 0) + entries.reduce((n, e) => n + e.amount, 0),
      entries: (before?.entries ?? 0) + entries.length,
      updated_at: at,
    },
  };
  return entries;
}
