/**
 * The customer ledger. What a transaction should have put on its customer's
 * ledger is a function of its snapshots (paid, each refund counted or not,
 * dispute funds taken and given back); `posted` remembers what it did put.
 * Each change appends the difference as entries and moves the balance by
 * their sum, in the commit that changes the transaction, so the balance is
 * always the sum of the entries and nothing is posted twice.
 */
import type { IdFactory } from "../kv/ids.ts";
import {
  addBalance,
  addLedgerEntry,
  type CustomerBalance,
  type LedgerEntry,
  type LedgerEntryType,
} from "../kv/customers.ts";
import { paidAmount } from "./txn_derive.ts";
import { refundCounts } from "./txn_snapshots.ts";
import type { Postings, Transaction, TxnSync } from "./txn_types.ts";

export type { CustomerBalance, LedgerEntry, LedgerEntryType } from "../kv/customers.ts";

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
 * Adds the plan's entries and the balance move to `op`, checking the balance
 * as read (`balance`, for the plan's customer and currency): a checked
 * read-modify-write, as `Deno.KvU64` cannot go negative.
 */
export function addPostings(
  op: Deno.AtomicOperation,
  plan: PostingPlan,
  balance: Deno.KvEntryMaybe<CustomerBalance> | null,
  ctx: { transactionId: string; newId: IdFactory; now: number },
): LedgerEntry[] {
  const { customer, currency, lines } = plan;
  if (!customer || !currency || lines.length === 0) return [];
  if (!balance) throw new Error(`addPostings needs the ${currency} balance of ${customer}`);
  op.check(balance);
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
  addBalance(op, {
    customer,
    currency,
    amount: (balance.value?.amount ?? 0) + entries.reduce((n, e) => n + e.amount, 0),
    entries: (balance.value?.entries ?? 0) + entries.length,
    updated_at: at,
  });
  return entries;
}
