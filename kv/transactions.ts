/**
 * Transactions in KV: the record (`["transactions", id]`), its Stripe sync
 * state, the `pi_`/`ch_` lookup, and four listing indexes keyed by Stripe's
 * `created` so every filter combination of GET /transactions is one range scan.
 */
import { keys } from "./keys.ts";
import { getManyChunked } from "./atomic.ts";
import { type CursorSealer, listIndexPage, type Page, RecordLocality } from "./pagination.ts";
import type { Transaction, TxnSync } from "../domain/transaction.ts";
import type { CustomerAggregates } from "../domain/customer.ts";
import type { CounterCache } from "./read_cache.ts";

export interface TransactionState {
  txn: Deno.KvEntryMaybe<Transaction>;
  sync: Deno.KvEntryMaybe<TxnSync>;
}

export function findTransactionId(kv: Deno.Kv, stripeId: string) {
  return kv.get<string>(keys.transactionByStripe(stripeId));
}

/** The transaction ids of several Stripe ids, in one read (null where unknown). */
export async function findTransactionIds(
  kv: Deno.Kv,
  stripeIds: string[],
): Promise<(string | null)[]> {
  const rows = await kv.getMany<string[]>(stripeIds.map((id) => keys.transactionByStripe(id)));
  return rows.map((r) => r.value);
}

/**
 * `findTransactionIds` and, in the same read, the counters record of the
 * customer the event names (a new payment then costs one read before its
 * commit): from `cache` when it holds it (checked at commit like any read),
 * and kept there when read.
 */
export async function findWithCounters(
  kv: Deno.Kv,
  stripeIds: string[],
  customer: string,
  cache: CounterCache | null = null,
): Promise<{ ids: (string | null)[]; counters: Deno.KvEntryMaybe<CustomerAggregates> }> {
  const countersKey = keys.customerAggregates(customer);
  const idKeys = stripeIds.map((id) => keys.transactionByStripe(id));
  const cached = cache?.get<CustomerAggregates>(countersKey) ?? null;
  if (cached) {
    const rows = await kv.getMany<string[]>(idKeys);
    return { ids: rows.map((r) => r.value), counters: cached };
  }
  const rows = await kv.getMany<unknown[]>([...idKeys, countersKey]);
  const n = stripeIds.length;
  cache?.fill(rows[n]);
  return {
    ids: rows.slice(0, n).map((r) => r.value as string | null),
    counters: rows[n] as Deno.KvEntryMaybe<CustomerAggregates>,
  };
}

export async function readTransactionState(kv: Deno.Kv, id: string): Promise<TransactionState> {
  const [txn, sync] = await kv.getMany<[Transaction, TxnSync]>([
    keys.transaction(id),
    keys.transactionSync(id),
  ]);
  return { txn, sync };
}

export async function getTransaction(kv: Deno.Kv, id: string): Promise<Transaction | null> {
  return (await kv.get<Transaction>(keys.transaction(id))).value;
}

export async function getTransactions(kv: Deno.Kv, ids: string[]): Promise<Transaction[]> {
  const rows = await getManyChunked<Transaction>(kv, ids.map((id) => keys.transaction(id)));
  return rows.filter((r) => r.value !== null).map((r) => r.value!);
}

function createdMs(txn: Transaction): number {
  return Date.parse(txn.created);
}

function indexKeys(txn: Transaction): Deno.KvKey[] {
  const at = createdMs(txn);
  const out: Deno.KvKey[] = [
    keys.transactionsByCreated(at, txn.id),
    keys.transactionsByStatus(txn.status, at, txn.id),
  ];
  if (txn.customer) out.push(keys.transactionsByCustomer(txn.customer, at, txn.id));
  return out;
}

/**
 * Writes the sync state and, when `writeRecord`, the record, moving the
 * indexes whose key changed (status, customer, created) in the same op.
 * The record is left alone when nothing visible changed, so its versionstamp
 * (which the refunds service checks) only moves on real changes.
 * Checks are the caller's.
 */
export function addTransactionWrite(
  op: Deno.AtomicOperation,
  before: Transaction | null,
  after: Transaction,
  sync: TxnSync,
  writeRecord = true,
): void {
  op.set(keys.transactionSync(after.id), sync);
  if (!writeRecord) return;
  const next = indexKeys(after);
  const prev = before ? indexKeys(before) : [];
  // at most three keys a side: compared part by part, not serialized (this runs for every event)
  const has = (list: Deno.KvKey[], key: Deno.KvKey) =>
    list.some((k) => k.length === key.length && k.every((part, i) => part === key[i]));
  for (const old of prev) if (!has(next, old)) op.delete(old);
  for (const key of next) if (!has(prev, key)) op.set(key, after.id);
  op.set(keys.transaction(after.id), after);
}

/** Claims a Stripe id for a transaction: fails the commit if another claimed it first. */
export function addStripeIdClaim(op: Deno.AtomicOperation, stripeId: string, txnId: string): void {
  op.check({ key: keys.transactionByStripe(stripeId), versionstamp: null });
  op.set(keys.transactionByStripe(stripeId), txnId);
}

export interface TransactionListFilter {
  customer?: string;
  status?: string;
  /** ms, inclusive */
  from?: number;
  /** ms, exclusive */
  to?: number;
}

function listPrefix(f: TransactionListFilter): Deno.KvKey {
  if (f.customer) return keys.transactionsByCustomerPrefix(f.customer);
  if (f.status) return keys.transactionsByStatusPrefix(f.status);
  return keys.transactionsByCreatedPrefix();
}

/**
 * Newest first; `from`/`to` bound Stripe's `created`. `locality` (one per
 * service) learns, per filter shape, whether a page's records can be read as
 * one range (see `RecordLocality`).
 */
export function listTransactions(
  kv: Deno.Kv,
  sealer: CursorSealer,
  filter: TransactionListFilter,
  page: { limit: number; cursor?: string },
  locality: RecordLocality = new RecordLocality(),
): Promise<Page<Transaction>> {
  const prefix = listPrefix(filter);
  const selector: Deno.KvListSelector = {
    start: [...prefix, filter.from ?? 0],
    end: [...prefix, filter.to ?? Number.MAX_SAFE_INTEGER],
  };
  const scope = `transactions:${
    JSON.stringify([
      filter.customer ?? null,
      filter.status ?? null,
      filter.from ?? null,
      filter.to ?? null,
    ])
  }`;
  if (filter.customer && filter.status) {
    return scanCustomerByStatus(kv, sealer, selector, filter.status, { ...page, scope });
  }
  // the customer's own payments are scattered among everyone's; a status or date filter less so
  const shape = `${filter.customer ? "customer" : "all"}:${filter.status ? "status" : "any"}`;
  return listIndexPage<Transaction>(kv, sealer, selector, (id) => keys.transaction(id), {
    ...page,
    scope,
    locality: { of: locality, shape },
  });
}

/** Index rows one page of a customer's payments in one status may pass over. */
const CUSTOMER_STATUS_SCAN_ROWS = 1_000;

/**
 * One customer's transactions in one status, newest first: the customer's
 * index (no index per customer and status: it would cost every payment a
 * write for a listing that reads a few dozen rows), the records read in
 * batches and kept by status. The cursor is the last index key passed, so a
 * page that passed over `CUSTOMER_STATUS_SCAN_ROWS` rows comes back short with
 * a cursor to go on.
 */
async function scanCustomerByStatus(
  kv: Deno.Kv,
  sealer: CursorSealer,
  range: { start: Deno.KvKey; end: Deno.KvKey },
  status: string,
  page: { limit: number; cursor?: string; scope: string },
): Promise<Page<Transaction>> {
  const base = range.start.slice(0, -1);
  let end = range.end;
  if (page.cursor) end = [...base, ...JSON.parse(await sealer.unseal(page.scope, page.cursor))];
  const found: Transaction[] = [];
  let scanned = 0;
  let last: Deno.KvKey | null = null;
  const batchSize = Math.min(100, page.limit + 1);
  const iter = kv.list<string>({ start: range.start, end }, { reverse: true, batchSize });
  let batch: Deno.KvEntry<string>[] = [];
  const drain = async (): Promise<boolean> => {
    const records = await getManyChunked<Transaction>(
      kv,
      batch.map((e) => keys.transaction(e.value)),
    );
    for (const [i, entry] of batch.entries()) {
      const txn = records[i].value;
      if (txn?.status !== status) {
        last = entry.key;
        continue;
      }
      if (found.length === page.limit) return true; // one more match: there is a next page
      found.push(txn);
      last = entry.key;
    }
    batch = [];
    return false;
  };
  for await (const entry of iter) {
    batch.push(entry);
    scanned++;
    if (batch.length < 10 && scanned < CUSTOMER_STATUS_SCAN_ROWS) continue;
    if (await drain() || scanned >= CUSTOMER_STATUS_SCAN_ROWS) return seal(last);
  }
  if (batch.length && await drain()) return seal(last);
  return { data: found, next_cursor: null };

  async function seal(at: Deno.KvKey | null): Promise<Page<Transaction>> {
    const after = at === null ? null : JSON.stringify(at.slice(base.length));
    return { data: found, next_cursor: after && (await sealer.seal(page.scope, after)) };
  }
}

/**
 * Removes a transaction merged into another (record, sync state, listing
 * indexes) and leaves a redirect from its id. Checks are the caller's.
 */
export function addTransactionMergedAway(
  op: Deno.AtomicOperation,
  from: Transaction,
  intoId: string,
): void {
  for (const key of indexKeys(from)) op.delete(key);
  op.delete(keys.transaction(from.id));
  op.delete(keys.transactionSync(from.id));
  op.set(keys.transactionMergedInto(from.id), intoId);
}

/** Points a Stripe id that another transaction held at `txnId` (checked against `entry`). */
export function addStripeIdMove(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntryMaybe<string>,
  txnId: string,
): void {
  op.check(entry);
  op.set(entry.key, txnId);
}

/** Where a merged transaction went (null when `id` was never merged). */
export async function getMergedInto(kv: Deno.Kv, id: string): Promise<string | null> {
  return (await kv.get<string>(keys.transactionMergedInto(id))).value;
}

/**
 * Where each of `ids` answers now: a transaction merged into another (a stub,
 * README "Transactions and money edges") maps to the one it went into;
 * an id never merged is absent from the map.
 */
export async function resolveMergedIds(kv: Deno.Kv, ids: string[]): Promise<Map<string, string>> {
  const went = new Map<string, string>();
  let open = [...new Set(ids)];
  // only a stub merges, into a payment's transaction; a few hops are room to spare
  for (let hop = 0; hop < 4 && open.length; hop++) {
    const rows = await getManyChunked<string>(kv, open.map((id) => keys.transactionMergedInto(id)));
    open = rows.flatMap((row, i) => {
      if (!row.value) return [];
      went.set(open[i], row.value);
      return went.has(row.value) ? [] : [row.value];
    });
  }
  const out = new Map<string, string>();
  for (const id of went.keys()) {
    let at = id;
    for (let hop = 0; hop < 4 && went.has(at); hop++) at = went.get(at)!;
    out.set(id, at);
  }
  return out;
}
