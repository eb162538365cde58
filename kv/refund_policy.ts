/**
 * What the refund approval policy reads: one operator's refunds of the last
 * 24 h (through `["refunds_by_requester", admin, id]`, ULID ids in time
 * order), and the operator's mark.
 *
 *   ["refund_requester_marks", admin] -> ms of the operator's last request
 *
 * The index rows carry what the policy needs (kv/refunds.ts `RequesterRow`),
 * so the records are not read; a row written before rows carried it holds the
 * id alone, and that record is read instead.
 */
import { keys } from "./keys.ts";
import { idLowerBound } from "../core/ids.ts";
import { getManyChunked } from "./atomic.ts";
import type { RefundRecord } from "../domain/refund.ts";
import type { Transaction } from "../domain/transaction.ts";
import { type RequesterRow, requesterRow } from "./refunds.ts";

export interface RecentRefund extends RequesterRow {
  /** the payment's customer now (null when not asked for: `listRequesterRefundsSince`) */
  customer: string | null;
}

/** The operator's refunds created at or after `sinceMs`, as their index rows say. */
export async function listRequesterRowsSince(
  kv: Deno.Kv,
  requester: string,
  sinceMs: number,
): Promise<RequesterRow[]> {
  const prefix = keys.refundsByRequesterPrefix(requester);
  const rows: (RequesterRow | string)[] = [];
  const iter = kv.list<RequesterRow | string>({
    start: [...prefix, idLowerBound("rfd", sinceMs)],
    end: [...prefix, "rfd_\uffff"],
  }, { batchSize: 500 });
  for await (const e of iter) rows.push(e.value);
  const bare = rows.filter((r): r is string => typeof r === "string");
  if (bare.length === 0) return rows as RequesterRow[];
  const records = await getManyChunked<RefundRecord>(kv, bare.map((id) => keys.refund(id)));
  const read = new Map(
    records.flatMap((r) => r.value ? [[r.value.id, requesterRow(r.value)]] : []),
  );
  return rows.flatMap((r) => typeof r !== "string" ? [r] : read.has(r) ? [read.get(r)!] : []);
}

/**
 * The payments' customers as they are now, for the rows of `rows` (asked only
 * when the refund being decided has a customer: otherwise no prior refund can
 * share it).
 */
export async function withCustomers(kv: Deno.Kv, rows: RequesterRow[]): Promise<RecentRefund[]> {
  const txnIds = [...new Set(rows.map((r) => r.transaction_id))];
  const txns = await getManyChunked<Transaction>(kv, txnIds.map((id) => keys.transaction(id)));
  const customerOf = new Map<string, string | null>();
  for (const t of txns) if (t.value) customerOf.set(t.value.id, t.value.customer ?? null);
  return rows.map((r) => ({ ...r, customer: customerOf.get(r.transaction_id) ?? null }));
}

/** The operator's refunds created at or after `sinceMs`, with each payment's customer. */
export async function listRequesterRefundsSince(
  kv: Deno.Kv,
  requester: string,
  sinceMs: number,
): Promise<RecentRefund[]> {
  return withCustomers(kv, await listRequesterRowsSince(kv, requester, sinceMs));
}

/** The operator's last request: when, and the refund it created (older marks: the time alone). */
export interface RequesterMark {
  at: number;
  refund_id: string;
}

export function getRequesterMark(kv: Deno.Kv, requester: string) {
  return kv.get<number | RequesterMark>(keys.refundRequesterMark(requester));
}

/**
 * Whether `rows`, listed at the same time as `mark` was read (not after it),
 * hold every request the mark covers: the mark names the operator's last
 * request, so when its refund is among the rows (or too old to be), no request
 * landed between the list and the mark's read. Otherwise list again, after it.
 */
export function markCovers(
  mark: number | RequesterMark | null,
  rows: RequesterRow[],
  sinceMs: number,
): boolean {
  if (mark === null) return true;
  if (typeof mark === "number") return false;
  return mark.at < sinceMs || rows.some((r) => r.id === mark.refund_id);
}

/**
 * Checks the mark read and moves it: a concurrent request of the same operator
 * retries. `refundId`: the refund this request creates (see `markCovers`).
 */
export function addRequesterMark(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<number | RequesterMark>,
  nowMs: number,
  refundId?: string,
): void {
  op.check(read).set(read.key, refundId ? { at: nowMs, refund_id: refundId } : nowMs);
}
