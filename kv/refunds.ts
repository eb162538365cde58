/**
 * Refund records, their indexes and the operators' daily totals (ops alerts: kv/ops_alerts.ts).
 *
 *   ["refunds", id]                              -> RefundRecord (with its history)
 *   ["refunds_by_created", id]                   -> id
 *   ["refunds_by_transaction", txn, id]          -> id
 *   ["refunds_by_status", status, id]            -> id
 *   ["refunds_by_requester", requester, id]      -> RequesterRow (an id alone in older rows)
 *   ["refund_requester_versions", requester]     -> Deno.KvU64, +1 for each write of such a row
 *   ["refunds_by_stripe_refund", re_…]           -> id  (unique: versionstamp null on create)
 *   ["refund_daily_totals", admin, "2026-11-26"] -> Deno.KvU64 (minor units)
 *
 * `add…` functions only add checks and mutations to an atomic op, so callers
 * commit them together with the transaction change and the audit entry.
 */
import { keys } from "./keys.ts";
import { getManyChunked } from "./atomic.ts";
import type { Transaction } from "../domain/transaction.ts";
import type { RefundRecord, RefundStatus } from "../domain/refund.ts";

/**
 * What the approval policy needs of one of an operator's refunds, kept on the
 * requester index row so the policy reads the rows alone (kv/refund_policy.ts):
 * rewritten whenever the status or the transaction changes.
 */
export interface RequesterRow {
  id: string;
  transaction_id: string;
  amount: number;
  currency: string;
  status: RefundStatus;
  created_at: string;
  /** times this row has been written (rows written before it was counted: absent) */
  w?: number;
}

export function requesterRow(r: RefundRecord): RequesterRow {
  const { id, transaction_id, amount, currency, status, created_at } = r;
  const row: RequesterRow = { id, transaction_id, amount, currency, status, created_at };
  if (r.requester_row_writes !== undefined) row.w = r.requester_row_writes;
  return row;
}

/**
 * Writes the requester index row of `r`, whose row had been written
 * `writesBefore` times, and returns the record to store with it: record and
 * row carry the new count (`requester_row_writes`, the row's `w`), and the
 * operator's version (`keys.refundRequesterVersion`) rises by one in the same
 * commit. So the rise of the version is the sum of the rises of the rows'
 * counts, which is how a reader knows what moved (services/refunds/policy_rows.ts).
 * A sum, not a checked write: it adds no conflict.
 */
function addRequesterRow(
  op: Deno.AtomicOperation,
  r: RefundRecord,
  writesBefore: number,
): RefundRecord {
  const stored: RefundRecord = { ...r, requester_row_writes: writesBefore + 1 };
  op.set(keys.refundByRequester(r.requested_by, r.id), requesterRow(stored))
    .sum(keys.refundRequesterVersion(r.requested_by), 1n);
  return stored;
}

/** The refund id a requester index row names (older rows hold the id alone). */
export function requesterRowId(row: RequesterRow | string): string {
  return typeof row === "string" ? row : row.id;
}

export function getRefund(kv: Deno.Kv, id: string): Promise<Deno.KvEntryMaybe<RefundRecord>> {
  return kv.get<RefundRecord>(keys.refund(id));
}

export function getRefundIdByStripeRefund(
  kv: Deno.Kv,
  stripeRefundId: string,
): Promise<Deno.KvEntryMaybe<string>> {
  return kv.get<string>(keys.refundByStripeRefund(stripeRefundId));
}

/**
 * Moves the transaction's `amount_reserved` (the refunds service's part of the
 * record; the Stripe event applier writes the rest and checks the same entry).
 */
export function addTransactionReserved(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<Transaction>,
  reserved: number,
  now: number,
): Transaction {
  const next = {
    ...entry.value,
    amount_reserved: reserved,
    updated_at: new Date(now).toISOString(),
  };
  op.check(entry).set(keys.transaction(next.id), next);
  return next;
}

export function getTransactionEntry(
  kv: Deno.Kv,
  id: string,
): Promise<Deno.KvEntryMaybe<Transaction>> {
  return kv.get<Transaction>(keys.transaction(id));
}

/** Removes a job record from the table (a no-op when a runner has already claimed it). */
export function addJobRemoval(op: Deno.AtomicOperation, job: { id: string; due_at: number }): void {
  op.delete(keys.job(job.due_at, job.id));
}

export function addCreateRefund(op: Deno.AtomicOperation, record: RefundRecord): void {
  op.check({ key: keys.refund(record.id), versionstamp: null })
    .set(keys.refund(record.id), addRequesterRow(op, record, 0))
    .set(keys.refundsByCreated(record.id), record.id)
    .set(keys.refundByTransaction(record.transaction_id, record.id), record.id)
    .set(keys.refundByStatus(record.status, record.id), record.id);
  if (record.stripe_refund) addStripeIndex(op, record.stripe_refund, record.id);
}

function addStripeIndex(op: Deno.AtomicOperation, stripeRefundId: string, id: string): void {
  op.check({ key: keys.refundByStripeRefund(stripeRefundId), versionstamp: null })
    .set(keys.refundByStripeRefund(stripeRefundId), id);
}

/** Replaces a record read as `entry` (checked), moving its status index along. */
export function addUpdateRefund(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<RefundRecord>,
  next: RefundRecord,
): void {
  const before = entry.value;
  const writes = before.requester_row_writes;
  const stored = before.status !== next.status || before.transaction_id !== next.transaction_id
    ? addRequesterRow(op, next, writes ?? 0)
    : writes === undefined
    ? next
    : { ...next, requester_row_writes: writes };
  op.check(entry).set(keys.refund(next.id), stored);
  if (before.status !== next.status) {
    op.delete(keys.refundByStatus(before.status, next.id))
      .set(keys.refundByStatus(next.status, next.id), next.id);
  }
  if (next.stripe_refund && next.stripe_refund !== before.stripe_refund) {
    addStripeIndex(op, next.stripe_refund, next.id);
  }
}

export async function listTransactionRefunds(
  kv: Deno.Kv,
  txnId: string,
): Promise<RefundRecord[]> {
  const ids: string[] = [];
  for await (const e of kv.list<string>({ prefix: keys.refundsByTransactionPrefix(txnId) })) {
    ids.push(e.value);
  }
  const rows = await getManyChunked<RefundRecord>(kv, ids.map((id) => keys.refund(id)));
  return rows.flatMap((r) => r.value ? [r.value] : []);
}

/** Every refund in `status`, oldest first (reconciliation sweeps). */
export async function listRefundIdsByStatus(
  kv: Deno.Kv,
  status: RefundStatus,
  limit: number,
): Promise<string[]> {
  const ids: string[] = [];
  for await (
    const e of kv.list<string>({ prefix: keys.refundsByStatusPrefix(status) }, { limit })
  ) {
    ids.push(e.value);
  }
  return ids;
}

// --- the operators' daily totals (Deno.KvU64 sums: no contention, no read) ---

const U64 = 1n << 64n;

export async function getDailyTotal(kv: Deno.Kv, adminId: string, day: string) {
  const entry = await kv.get<Deno.KvU64>(keys.refundDailyTotal(adminId, day));
  return { entry, total: entry.value ? Number(entry.value.value) : 0 };
}

/** Adds (or, with a negative amount, takes back) part of an operator's daily total. */
export function addDailyTotal(
  op: Deno.AtomicOperation,
  adminId: string,
  day: string,
  amount: number,
): void {
  // `sum` wraps modulo 2^64, so adding 2^64 - x subtracts x.
  const delta = amount >= 0 ? BigInt(amount) : U64 - BigInt(-amount);
  op.sum(keys.refundDailyTotal(adminId, day), delta % U64);
}

/**
 * Moves a refund to another transaction (its stub merged into the payment's
 * record): the record and its transaction index, checked against `entry`.
 */
export function addRefundTransactionMove(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<RefundRecord>,
  intoId: string,
  now: string,
): RefundRecord {
  const before = entry.value;
  const after: RefundRecord = { ...before, transaction_id: intoId, updated_at: now };
  op.check(entry)
    .set(keys.refund(after.id), addRequesterRow(op, after, before.requester_row_writes ?? 0))
    .delete(keys.refundByTransaction(before.transaction_id, before.id))
    .set(keys.refundByTransaction(intoId, after.id), after.id);
  return after;
}

/** The refunds recorded against a transaction, as entries (to move them, checked). */
export async function listTransactionRefundEntries(
  kv: Deno.Kv,
  txnId: string,
): Promise<Deno.KvEntry<RefundRecord>[]> {
  const ids: string[] = [];
  for await (const e of kv.list<string>({ prefix: keys.refundsByTransactionPrefix(txnId) })) {
    ids.push(e.value);
  }
  const rows = await getManyChunked<RefundRecord>(kv, ids.map((id) => keys.refund(id)));
  return rows.filter((r): r is Deno.KvEntry<RefundRecord> => r.value !== null);
}
