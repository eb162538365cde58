/**
 * Reading transactions: GET /transactions (filters customer, status, from, to)
 * and GET /transactions/{id} (our `txn_` id, or the Stripe `pi_`/`ch_` id), with what
 * was done about it (services/transaction_activity.ts).
 * Transactions are written only by the Stripe event applier (services/ingest/applier.ts).
 * Concurrent identical listings share one read of the index page and its
 * records, never one that began before they arrived (core/coalesce.ts): each
 * sees every payment written before it arrived, as with a read of its own.
 */
import type { Deps } from "./deps.ts";
import { notFound, validationFailed } from "../core/errors.ts";
import { createCoalescer } from "../core/coalesce.ts";
import { type CursorSealer, type Page, RecordLocality } from "../kv/pagination.ts";
import {
  findTransactionId,
  getMergedInto,
  getTransaction,
  listTransactions,
  type TransactionListFilter,
} from "../kv/transactions.ts";
import type { Transaction } from "../domain/transaction.ts";
import { transactionActivity } from "./transaction_activity.ts";

export type { Transaction, TxnStatus } from "../domain/transaction.ts";
export { TXN_STATUSES } from "../domain/transaction.ts";

export interface TransactionQuery extends TransactionListFilter {
  limit: number;
  cursor?: string;
}

export function createTransactionService(deps: Deps, svc: { cursors: CursorSealer }) {
  const { kv } = deps;
  const locality = new RecordLocality();
  const pages = createCoalescer<Page<Transaction>>();

  /** Newest first (by Stripe's `created`); `from` inclusive, `to` exclusive (ms). */
  function list(q: TransactionQuery): Promise<Page<Transaction>> {
    if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
      throw validationFailed([{ path: "query.to", message: "to must be later than from" }]);
    }
    const { limit, cursor, customer, status, from, to } = q;
    const filter = { customer, status, from, to };
    // everything the page depends on: the same key is the same listing
    const key = JSON.stringify([limit, cursor, customer, status, from, to]);
    return pages.read(
      key,
      () => listTransactions(kv, svc.cursors, filter, { limit, cursor }, locality),
    );
  }

  /** By `txn_…`, or by the PaymentIntent / Charge id Stripe shows. */
  async function get(id: string): Promise<Transaction> {
    const txnId = id.startsWith("txn_") ? id : (await findTransactionId(kv, id)).value;
    let txn = txnId ? await getTransaction(kv, txnId) : null;
    // a charge-keyed stub merged into its payment's record answers as that record
    const into = !txn && txnId ? await getMergedInto(kv, txnId) : null;
    if (into) txn = await getTransaction(kv, into);
    if (!txn) throw notFound("transaction", id);
    return txn;
  }

  return { list, get, activity: (txnId: string) => transactionActivity(kv, txnId) };
}

export type TransactionService = ReturnType<typeof createTransactionService>;
