/**
 * What the refund approval policy reads: one operator's refunds of the last
 * 24 h (through `["refunds_by_requester", admin, id]`, ULID ids in time
 * order), and the operator's mark.
 *
 *   ["refund_requester_marks", admin]    -> the operator's last request (ms, refund id)
 *   ["refund_requester_versions", admin] -> +1 for every write of one of the operator's rows
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
  /** the payment's customer now (null when not asked for) */
  customer: string | null;
  /** the fingerprint of the payment's card (null when none, or not asked for) */
  card: string | null;
}

/** One of the operator's index rows as listed, with the versionstamp of its row. */
export interface ListedRow {
  row: RequesterRow;
  versionstamp: string;
}

/**
 * The operator's rows for refunds created at or after `sinceMs`, with their
 * versionstamps. A row holding an id alone (written before rows carried the
 * policy's fields) is answered from its record.
 */
export async function listRequesterRowsSince(
  kv: Deno.Kv,
  requester: string,
  sinceMs: number,
): Promise<ListedRow[]> {
  const prefix = keys.refundsByRequesterPrefix(requester);
  const listed: Deno.KvEntry<RequesterRow | string>[] = [];
  const iter = kv.list<RequesterRow | string>({
    start: [...prefix, idLowerBound("rfd", sinceMs)],
    end: [...prefix, "rfd_\uffff"],
  }, { batchSize: 1000 });
  for await (const e of iter) listed.push(e);
  const bare = listed.flatMap((e) => typeof e.value === "string" ? [e.value] : []);
  const read = new Map<string, RequesterRow>();
  if (bare.length > 0) {
    const records = await getManyChunked<RefundRecord>(kv, bare.map((id) => keys.refund(id)));
    for (const r of records) if (r.value) read.set(r.value.id, requesterRow(r.value));
  }
  return listed.flatMap((e) => {
    const row = typeof e.value === "string" ? read.get(e.value) : e.value;
    return row ? [{ row, versionstamp: e.versionstamp }] : [];
  });
}

/** Who paid a transaction, as the approval policy groups refunds. */
export interface Payer {
  customer: string | null;
  /** the card's fingerprint */
  card: string | null;
}

/** The payer of a transaction: its customer and its card's fingerprint. */
export function payerOf(t: Transaction): Payer {
  return { customer: t.customer ?? null, card: t.payment_method?.fingerprint ?? null };
}

/** The payers of the transactions `txnIds`, as they are now (absent: no record). */
export async function readPayers(
  kv: Deno.Kv,
  txnIds: string[],
): Promise<Map<string, Payer>> {
  const txns = await getManyChunked<Transaction>(kv, txnIds.map((id) => keys.transaction(id)));
  const payers = new Map<string, Payer>();
  for (const t of txns) if (t.value) payers.set(t.value.id, payerOf(t.value));
  return payers;
}

/** The operator's last request: when, and the refund it created (older marks: the time alone). */
export interface RequesterMark {
  at: number;
  refund_id: string;
}

/** What a request reads of the operator first: the mark, and the count of row writes. */
export interface RequesterState {
  mark: Deno.KvEntryMaybe<number | RequesterMark>;
  /** `keys.refundRequesterVersion` (0 before any row was counted) */
  version: bigint;
}

/** The operator's state and the index rows of `ids`, all of ONE snapshot. */
export interface RequesterSnapshot extends RequesterState {
  /** by refund id, in the order asked */
  rows: Deno.KvEntryMaybe<RequesterRow | string>[];
}

/** Keys per `getMany` (KV reads at most 10 keys at once). */
const KEYS_PER_READ = 10;

/**
 * The mark, the version and the rows of `ids`, as of one snapshot: each
 * `getMany` is one snapshot and carries the version, and the rows only change
 * with the version, so reads that all saw the same version saw the same
 * state. Null when the version moved between them (read again, or list).
 */
export async function readRequesterSnapshot(
  kv: Deno.Kv,
  requester: string,
  ids: string[],
): Promise<RequesterSnapshot | null> {
  const versionKey = keys.refundRequesterVersion(requester);
  const first = [keys.refundRequesterMark(requester), versionKey];
  const rowKeys = ids.map((id) => keys.refundByRequester(requester, id));
  const reads = [kv.getMany<unknown[]>([...first, ...rowKeys.slice(0, KEYS_PER_READ - 2)])];
  for (let i = KEYS_PER_READ - 2; i < rowKeys.length; i += KEYS_PER_READ - 1) {
    reads.push(kv.getMany<unknown[]>([versionKey, ...rowKeys.slice(i, i + KEYS_PER_READ - 1)]));
  }
  const answers = await Promise.all(reads);
  const versions = answers.map((a, i) => versionOf(a[i === 0 ? 1 : 0]));
  if (versions.some((v) => v !== versions[0])) return null;
  const rows = answers.flatMap((a, i) => a.slice(i === 0 ? 2 : 1));
  return {
    mark: answers[0][0] as Deno.KvEntryMaybe<number | RequesterMark>,
    version: versions[0],
    rows: rows as Deno.KvEntryMaybe<RequesterRow | string>[],
  };
}

function versionOf(e: Deno.KvEntryMaybe<unknown>): bigint {
  return (e.value as Deno.KvU64 | null)?.value ?? 0n;
}

/** The mark and the version alone. */
export async function getRequesterState(kv: Deno.Kv, requester: string): Promise<RequesterState> {
  const snap = await readRequesterSnapshot(kv, requester, []);
  return { mark: snap!.mark, version: snap!.version };
}

/** The version alone. */
export async function getRequesterVersion(kv: Deno.Kv, requester: string): Promise<bigint> {
  return versionOf(await kv.get(keys.refundRequesterVersion(requester)));
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
