/**
 * The customer ledger. What a transaction should have put on its customer's
 * ledger is a function of its snapshots (paid, each refund counted or not,
 * dispute funds taken and given back); `posted` remembers what it did put.
 * Each change appends the difference as entries and moves the balance by
 * their sum, in the commit that changes the transaction, so the balance is
 * always the sum of the entries and nothing is posted twice. Money posted
 * for a customer or in a currency the payment turned out not to have is taken
 * off there with one `reassignment` entry (services/ingest/counters.ts).
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

/** The charge that was paid, whichever of its events came first. */
function paidObject(sync: TxnSync): string | null {
  const paid = Object.values(sync.charges).filter((c) => c.status === "succeeded" && c.captured)
    .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))[0];
  return paid?.id ?? (sync.pi?.status === "succeeded" ? sync.pi.latest_charge : null);
}

/** Nothing posted yet: what a transaction holds on no ledger. */
export function emptyPostings(): Postings {
  return { customer: null, currency: null, payment: 0, refunds: {}, withdrawn: {}, reinstated: {} };
}

/** What the postings add up to on their ledger: paid in, less what went back. */
export function postedNet(p: Postings): number {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((n, a) => n + a, 0);
  return p.payment - sum(p.refunds) - sum(p.withdrawn) + sum(p.reinstated);
}

/** The line that takes a transaction's money off a ledger that is no longer its own. */
export interface ReleaseLine {
  customer: string;
  currency: string;
  amount: number;
}

/**
 * When the transaction's money sits in another currency than the one it moved
 * in (a snapshot of an earlier currency was posted), the line that releases it
 * there (null when it nets to nothing) and the postings emptied, to post again
 * in `currency`; null when nothing needs releasing. The customer is the
 * caller's (services/ingest/release.ts releases another customer's).
 */
export function planCurrencyRelease(
  posted: Postings,
  currency: string | null,
): { line: ReleaseLine | null; posted: Postings } | null {
  if (!posted.customer || !posted.currency || !currency || posted.currency === currency) {
    return null;
  }
  const net = postedNet(posted);
  const line = net ? { customer: posted.customer, currency: posted.currency, amount: -net } : null;
  return { line, posted: { ...emptyPostings(), customer: posted.customer } };
}

/**
 * The entries that bring `customer`'s ledger to what `sync` says, in the
 * currency the money moved in (`currency`). Nothing is posted while the
 * customer or the currency is unknown (a guest payment, a stub); it all is,
 * once known. The caller has released anything posted elsewhere first.
 */
export function planPostings(
  sync: TxnSync,
  txn: Transaction,
  customer: string | null,
  currency: string | null,
): PostingPlan {
  if (!customer || !currency) return { customer, currency, lines: [], posted: sync.posted };
  if (sync.posted.customer && sync.posted.customer !== customer) {
    throw new Error(`${txn.id} still holds postings for ${sync.posted.customer}, not ${customer}`);
  }
  const posted: Postings = {
    ...sync.posted,
    refunds: { ...sync.posted.refunds },
    withdrawn: { ...sync.posted.withdrawn },
    reinstated: { ...sync.posted.reinstated },
  };
  const lines: PostingLine[] = [];

  const paid = paidAmount(sync);
  if (paid !== posted.payment) {
    lines.push({
      type: "payment",
      amount: paid - posted.payment,
      stripe_object: paidObject(sync) ?? txn.stripe_charge ?? txn.stripe_payment_intent ?? txn.id,
    });
    posted.payment = paid;
  }
  for (const r of Object.values(sync.refunds)) {
    const want = refundCounts(r.status) ? r.amount : 0;
    const have = posted.refunds[r.id] ?? 0;
    if (!want && !have && r.accepted && !posted.reversed?.[r.id]) {
      // accepted, then failed, its failure seen first: the entry and its reversal, as in order
      lines.push({ type: "refund", amount: -r.amount, stripe_object: r.id });
      lines.push({ type: "refund_reversal", amount: r.amount, stripe_object: r.id });
      posted.reversed = { ...posted.reversed, [r.id]: r.amount };
    }
    if (want > have) lines.push({ type: "refund", amount: -(want - have), stripe_object: r.id });
    if (want < have) {
      lines.push({ type: "refund_reversal", amount: have - want, stripe_object: r.id });
      if (!want) posted.reversed = { ...posted.reversed, [r.id]: have };
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
  if (lines.length === 0) return { customer, currency, lines, posted: sync.posted };
  posted.customer = customer;
  posted.currency = currency;
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
  moveBalance(counters, currency, entries, at);
  return entries;
}

/**
 * Adds the `reassignment` entry that takes the transaction's money off a
 * ledger (a customer or currency it no longer belongs to) and moves that
 * balance, as `addPostings` does.
 */
export function addRelease(
  op: Deno.AtomicOperation,
  line: ReleaseLine,
  counters: CustomerAggregates,
  ctx: { transactionId: string; stripeObject: string; newId: IdFactory; now: number },
): LedgerEntry {
  if (counters.customer !== line.customer) {
    throw new Error(`addRelease got the counters of ${counters.customer}, not ${line.customer}`);
  }
  const at = new Date(ctx.now).toISOString();
  const entry: LedgerEntry = {
    id: ctx.newId("led"),
    customer: line.customer,
    type: "reassignment",
    amount: line.amount,
    currency: line.currency,
    transaction_id: ctx.transactionId,
    stripe_object: ctx.stripeObject,
    at,
  };
  addLedgerEntry(op, entry);
  moveBalance(counters, line.currency, [entry], at);
  return entry;
}

function moveBalance(
  counters: CustomerAggregates,
  currency: string,
  entries: LedgerEntry[],
  at: string,
): void {
  const before = counters.balances?.[currency];
  counters.balances = {
    ...counters.balances,
    [currency]: {
      amount: (before?.amount ?? 0) + entries.reduce((n, e) => n + e.amount, 0),
      entries: (before?.entries ?? 0) + entries.length,
      updated_at: at,
    },
  };
}
