/**
 * Taking a transaction off a customer that is no longer the payment's. The
 * money and the counts belong to the payment's customer as Stripe has it last
 * (README, "Transactions and money edges"); Stripe lets a PaymentIntent's
 * customer change until it is paid, so an event applied earlier may have
 * counted an attempt (a decline, say), or posted money, for the customer it
 * named then.
 *
 * In the commit that finds the payment's customer changed, that customer's
 * counters record gives back what the transaction put there: a
 * `reassignment` ledger entry for its money, the counts of the attempts and
 * signals its snapshots show, the entries it added to the history the fraud
 * rules read and the card declines written for them. A record left with
 * nothing in it is removed, as if it had never been written. The caller then
 * posts and counts everything for the payment's customer.
 */
import type { IdFactory } from "../../core/ids.ts";
import type { CustomerAggregates } from "../../domain/customer.ts";
import type { Attempt, FraudHistory } from "../../domain/fraud_history.ts";
import type { Transaction, TxnSync } from "../../domain/transaction.ts";
import { addAggregates, addAggregatesDeletion, getAggregates } from "../../kv/customers.ts";
import { addCardDeclineRemoval, addHistoryChangeRemoval } from "../../kv/fraud.ts";
import { copyCounters, removeContribution } from "./aggregates.ts";
import { type Contribution, contributions, paymentCounted } from "./contributions.ts";
import { addHistoryWork } from "./fraud_history.ts";
import { addRelease, emptyPostings, postedNet } from "./ledger.ts";

/**
 * The contributions `counted` holds, as the snapshots showed them before this
 * change (closest to when they were counted), else as they show them now.
 */
function countedHere(before: TxnSync | null, sync: TxnSync, counted: Set<string>): Contribution[] {
  const out = new Map<string, Contribution>();
  for (const k of counted) {
    const payment = paymentCounted(k);
    if (payment) out.set(k, payment);
  }
  for (const c of [...(before ? contributions(before) : []), ...contributions(sync)]) {
    if (counted.has(c.key) && !out.has(c.key)) out.set(c.key, c);
  }
  return [...out.values()];
}

/** The history without the transaction's entries, and the attempts taken out; null: none. */
function withoutTransaction(
  history: FraudHistory | null,
  txnId: string,
  now: number,
): { kept: FraudHistory; removed: Attempt[] } | null {
  if (!history) return null;
  const mine = (e: { x: string }) => e.x === txnId;
  const removed = history.attempts.filter(mine);
  if (!removed.length && !history.disputes.some(mine) && !history.warnings.some(mine)) return null;
  const kept: FraudHistory = {
    subject: history.subject,
    attempts: history.attempts.filter((e) => !mine(e)),
    disputes: history.disputes.filter((e) => !mine(e)),
    warnings: history.warnings.filter((e) => !mine(e)),
    changed_at: Math.max(now, history.changed_at),
  };
  return { kept, removed };
}

/** Nothing counted, posted or seen: as a customer that was never written. */
function isEmpty(agg: CustomerAggregates): boolean {
  const t = agg.totals;
  const history = agg.fraud;
  return !Object.keys(agg.balances ?? {}).length && !Object.keys(agg.hours).length &&
    !Object.keys(agg.fingerprints).length && !Object.keys(agg.amount_stats).length &&
    !t.payments && !t.failures && !Object.keys(t.declines_by_code).length &&
    !t.early_fraud_warnings && !t.reviews_opened && !t.disputes &&
    (!history || !history.attempts.length && !history.disputes.length && !history.warnings.length);
}

/**
 * Releases what the transaction holds on `holder` (see the module comment)
 * and empties `sync.posted` and `sync.counted`, so the caller posts and counts
 * it all again for the payment's customer. True when `holder`'s record changed.
 */
export async function releaseCustomer(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  a: {
    sync: TxnSync;
    /** as stored before this change: what it counted may have left the snapshots since */
    before: TxnSync | null;
    txn: Transaction;
    holder: string;
    newId: IdFactory;
    now: number;
  },
): Promise<boolean> {
  const { sync, txn, holder, now } = a;
  const posted = sync.posted;
  const counted = new Set(sync.counted);
  sync.posted = emptyPostings();
  sync.counted = [];
  const read = await getAggregates(kv, holder);
  if (!read.value) return false;
  const counters = copyCounters(read.value, holder, now);
  let changed = false;
  const net = postedNet(posted);
  if (net && posted.currency) {
    addRelease(op, { customer: holder, currency: posted.currency, amount: -net }, counters, {
      transactionId: txn.id,
      stripeObject: txn.stripe_payment_intent ?? txn.stripe_charge ?? txn.id,
      newId: a.newId,
      now,
    });
    changed = true;
  }
  for (const c of countedHere(a.before, sync, counted)) {
    removeContribution(counters, c, now);
    changed = true;
  }
  const previous = read.value.fraud ?? null;
  const history = withoutTransaction(previous, txn.id, now);
  if (history) {
    counters.fraud = history.kept;
    for (const x of history.removed) {
      if (x.o === "f" && x.f) {
        addCardDeclineRemoval(op, { fingerprint: x.f, t: x.t, customer: holder, k: x.k });
      }
    }
    changed = true;
  }
  if (!changed) return false;
  op.check(read);
  if (isEmpty(counters)) {
    addAggregatesDeletion(op, holder);
    if (previous?.changed_at) addHistoryChangeRemoval(op, previous.changed_at, holder);
    return true;
  }
  counters.updated_at = new Date(now).toISOString();
  addAggregates(op, counters);
  if (history) addHistoryWork(op, previous, history.kept, { now });
  return true;
}
