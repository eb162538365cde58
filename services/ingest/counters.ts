/**
 * The customer's side of an ingest commit: the ledger postings, aggregates
 * and fraud history of the payment's customer, on its counters record (one
 * record, written once, checked as read); a payment without a customer
 * updates its card's fraud history instead.
 *
 * Money is booked in the currency it moved in, for the payment's customer as
 * Stripe has it last (README, "Transactions and money edges"), whatever the
 * delivery order: what an earlier snapshot put under another customer
 * (services/ingest/release.ts) or in another currency is released first, in
 * the same commit, then posted and counted where it belongs.
 */
import type { IdFactory } from "../../core/ids.ts";
import type { CustomerAggregates } from "../../domain/customer.ts";
import type { Transaction, TxnSync } from "../../domain/transaction.ts";
import { addAggregates, getAggregates } from "../../kv/customers.ts";
import { copyCounters, planAggregates } from "./aggregates.ts";
import { addCardHistoryWork, addHistoryWork, planCustomerHistory } from "./fraud_history.ts";
import { addPostings, addRelease, planCurrencyRelease, planPostings } from "./ledger.ts";
import { releaseCustomer } from "./release.ts";
import { paidAmount } from "./derive.ts";

/**
 * Adds the customer's counters (and ledger entries) to `op`; updates
 * `sync.posted`/`counted`. Returns what moved (for the event log), or null.
 */
export async function addCounters(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  a: {
    sync: TxnSync;
    /** the sync state as stored before this change (null: a new transaction) */
    before: TxnSync | null;
    draft: Transaction;
    id: string;
    now: number;
    newId: IdFactory;
    counters: { entry: Deno.KvEntryMaybe<CustomerAggregates>; for: string } | null;
  },
): Promise<string | null> {
  const { sync, draft, now } = a;
  const customer = draft.customer;
  const holder = sync.posted.customer;
  let moved: string | null = null;
  if (holder && holder !== customer) {
    const released = await releaseCustomer(kv, op, {
      sync,
      before: a.before,
      txn: draft,
      holder,
      newId: a.newId,
      now,
    });
    if (released) moved = `moved from ${holder} to ${customer ?? "no customer"}`;
  }
  if (!customer) {
    await addCardHistoryWork(kv, op, sync, draft, { now });
    return moved;
  }
  // The transaction's currency is the money's once any moved (services/ingest/derive.ts).
  const currency = draft.currency || null;
  const release = planCurrencyRelease(sync.posted, currency);
  if (release) {
    if (release.line) moved = `moved from ${release.line.currency} to ${currency}`;
    sync.posted = release.posted;
  }
  // Until the payment itself is seen, its customer may still change: its money (a refund or
  // dispute seen first) waits to be posted with the payment.
  const plan = planPostings(sync, draft, paidAmount(sync) > 0 ? customer : null, currency);
  const read = a.counters?.for === customer ? a.counters.entry : await getAggregates(kv, customer);
  const counted = planAggregates(sync, customer, read.value, now);
  const previous = read.value?.fraud ?? null;
  const history = planCustomerHistory(previous, customer, sync, draft, now);
  if (counted || plan.lines.length || history || release?.line) {
    const counters = counted?.aggregates ?? copyCounters(read.value, customer, now);
    const ctx = { transactionId: a.id, newId: a.newId, now };
    if (release?.line) {
      const stripeObject = draft.stripe_payment_intent ?? draft.stripe_charge ?? a.id;
      addRelease(op, release.line, counters, { ...ctx, stripeObject });
    }
    addPostings(op, plan, counters, ctx);
    counters.updated_at = new Date(now).toISOString();
    if (history) {
      counters.fraud = history;
      addHistoryWork(op, previous, history, { now });
    }
    op.check(read);
    addAggregates(op, counters);
    // what this transaction holds is now on `customer` (the next change releases it from there)
    sync.posted = { ...plan.posted, customer };
  } else sync.posted = plan.posted;
  if (counted) sync.counted = counted.counted;
  return moved;
}
