/**
 * Listing refunds, newest first, through the most selective index. A status
 * filter judges each refund by the status it reads as now: a request past its
 * approval deadline is `expired` before the expiry job ends it (README,
 * "Two-person rules"), so `expired` lists those beside the ones marked so.
 */
import { keys } from "./keys.ts";
import { getManyChunked } from "./atomic.ts";
import { type CursorSealer, type Page, scanPage } from "./pagination.ts";
import { type RequesterRow, requesterRowId } from "./refunds.ts";
import { hasLapsed, type RefundRecord, type RefundStatus, statusAt } from "../domain/refund.ts";

export interface RefundFilters {
  status?: RefundStatus;
  transaction_id?: string;
  requested_by?: string;
}

/** How many index rows one page may read while filtering before it answers. */
const SCAN_BUDGET = 1000;
/** Refunds awaiting approval read for `status=expired` (they wait a day at most). */
const OPEN_CAP = 1000;

function indexFor(f: RefundFilters): Deno.KvKey {
  if (f.transaction_id) return keys.refundsByTransactionPrefix(f.transaction_id);
  if (f.requested_by) return keys.refundsByRequesterPrefix(f.requested_by);
  if (f.status) return keys.refundsByStatusPrefix(f.status);
  return keys.refundsByCreatedPrefix();
}

function matches(r: RefundRecord, f: RefundFilters, now: number): boolean {
  return (!f.status || statusAt(r, now) === f.status) &&
    (!f.transaction_id || r.transaction_id === f.transaction_id) &&
    (!f.requested_by || r.requested_by === f.requested_by);
}

/**
 * Newest first, through the most selective index; other filters are applied
 * to the records read. A page holds `limit` matches unless the scan budget ran
 * out first, in which case `next_cursor` continues where the scan stopped.
 */
export function listRefunds(
  kv: Deno.Kv,
  sealer: CursorSealer,
  filters: RefundFilters,
  page: { limit: number; cursor?: string },
  now: number,
): Promise<Page<RefundRecord>> {
  const scope = `refunds:${filters.status ?? ""}:${filters.transaction_id ?? ""}:${
    filters.requested_by ?? ""
  }`;
  if (filters.status === "expired" && !filters.transaction_id && !filters.requested_by) {
    return listExpired(kv, sealer, scope, page, now);
  }
  return scanPage<string | RequesterRow, RefundRecord>(
    kv,
    sealer,
    indexFor(filters),
    { ...page, scope, budget: SCAN_BUDGET },
    async (entry) => {
      const record = (await kv.get<RefundRecord>(keys.refund(requesterRowId(entry.value)))).value;
      return record && matches(record, filters, now) ? record : null;
    },
  );
}

/** Ids in one status index below `after` (newest first), at most `limit`. */
async function idsBelow(
  kv: Deno.Kv,
  status: RefundStatus,
  after: string | null,
  limit: number,
): Promise<string[]> {
  const prefix = keys.refundsByStatusPrefix(status);
  const selector = after ? { prefix, end: keys.refundByStatus(status, after) } : { prefix };
  const ids: string[] = [];
  for await (const e of kv.list<string>(selector, { reverse: true, limit })) ids.push(e.value);
  return ids;
}

/**
 * `status=expired`: the refunds marked expired merged with those still
 * awaiting approval past their deadline, newest first by id (ids are ULIDs);
 * the cursor is the last id shown, so a refund the job marks between two pages
 * is neither repeated nor skipped.
 */
async function listExpired(
  kv: Deno.Kv,
  sealer: CursorSealer,
  scope: string,
  page: { limit: number; cursor?: string },
  now: number,
): Promise<Page<RefundRecord>> {
  const after = page.cursor ? await sealer.unseal(scope, page.cursor) : null;
  const [marked, open] = await Promise.all([
    idsBelow(kv, "expired", after, page.limit + 1),
    idsBelow(kv, "awaiting_approval", after, OPEN_CAP),
  ]);
  const openRows = await getManyChunked<RefundRecord>(kv, open.map((id) => keys.refund(id)));
  const lapsed = openRows.flatMap((e) => e.value && hasLapsed(e.value, now) ? [e.value.id] : []);
  const ids = [...new Set([...marked, ...lapsed])].sort().reverse();
  const shown = ids.slice(0, page.limit);
  const rows = await getManyChunked<RefundRecord>(kv, shown.map((id) => keys.refund(id)));
  const data = rows.flatMap((e) =>
    e.value && statusAt(e.value, now) === "expired" ? [e.value] : []
  );
  const last = shown.at(-1);
  return {
    data,
    next_cursor: ids.length > page.limit && last ? await sealer.seal(scope, last) : null,
  };
}

/**
 * The refunds still awaiting approval in the store, newest first, at most
 * `limit`: those past their deadline too (the approvals queue lists them
 * under `expired` until the expiry job ends them).
 */
export async function listAwaitingApproval(kv: Deno.Kv, limit: number): Promise<RefundRecord[]> {
  const ids = await idsBelow(kv, "awaiting_approval", null, limit);
  const rows = await getManyChunked<RefundRecord>(kv, ids.map((id) => keys.refund(id)));
  return rows.flatMap((e) => e.value?.status === "awaiting_approval" ? [e.value] : []);
}
