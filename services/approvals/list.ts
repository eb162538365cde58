/**
 * GET /api/admin/approvals: the requests in one status, newest first, in
 * pages that never skip or repeat one, whatever `kind` and `limit` are.
 *
 * - `pending` lists the requests still open (not past `expires_at`) and the
 *   sources' own (refunds awaiting approval), merged by creation time. Both
 *   live at most a day, so they are read whole (up to `OPEN_CAP` each) and
 *   paged from a position: the last request shown, `[created_at, id]`.
 * - `expired` lists the requests marked expired and those still recorded
 *   pending past `expires_at` (README: a pending request expires after 24 h;
 *   it is marked so when someone next tries to decide it), the sources' own
 *   past their deadline among them, merged the same way.
 * - any other status is a scan of its index, the kind filter applied as it
 *   goes (at most `SCAN_BUDGET` rows a page; the cursor continues the scan).
 */
import type { Deps } from "../deps.ts";
import type { ApprovalRequest } from "../../domain/approval.ts";
import { keys } from "../../kv/keys.ts";
import { getApproval } from "../../kv/approvals.ts";
import { getManyChunked } from "../../kv/atomic.ts";
import { type Page, scanPage } from "../../kv/pagination.ts";
import type { ApprovalServices, KindRegistration } from "./types.ts";

const OPEN_CAP = 1000;
const SCAN_BUDGET = 2000;

export interface ListQuery {
  status: ApprovalRequest["status"];
  kind?: string;
  limit: number;
  cursor?: string;
}

/** Where a page ended: the last request shown. */
type Position = [createdAt: string, id: string];

/** An id without its kind's prefix: ULIDs, so they order as their creation does. */
const ulidOf = (id: string) => id.slice(id.indexOf("_") + 1);

/** Newest first: by creation time, then by id. */
function newerFirst(a: ApprovalRequest, b: ApprovalRequest): number {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
  return ulidOf(a.id) < ulidOf(b.id) ? 1 : ulidOf(a.id) > ulidOf(b.id) ? -1 : 0;
}

function isAfter(r: ApprovalRequest, [at, id]: Position): boolean {
  return r.created_at < at || (r.created_at === at && ulidOf(r.id) < ulidOf(id));
}

const isExpired = (r: ApprovalRequest, now: number) => Date.parse(r.expires_at) <= now;

/** Up to `cap` requests of one status index, newest first. */
async function readIndex(kv: Deno.Kv, status: string, cap: number): Promise<ApprovalRequest[]> {
  const ids: string[] = [];
  const iter = kv.list<string>({ prefix: keys.approvalsByStatusPrefix(status) }, {
    reverse: true,
    limit: cap,
  });
  for await (const e of iter) ids.push(e.value);
  const rows = await getManyChunked<ApprovalRequest>(kv, ids.map(keys.approval));
  return rows.flatMap((r) => r.value ? [r.value] : []);
}

export async function listRequests(
  deps: Deps,
  svc: ApprovalServices,
  kinds: Map<string, KindRegistration>,
  q: ListQuery,
): Promise<Page<ApprovalRequest>> {
  const { kv } = deps;
  const now = deps.clock.now();
  const ofKind = (r: ApprovalRequest) => !q.kind || r.kind === q.kind;
  const scope = `approvals:${q.status}:${q.kind ?? ""}`;
  if (q.status !== "pending" && q.status !== "expired") {
    return await scanPage<string, ApprovalRequest>(
      kv,
      svc.cursors,
      keys.approvalsByStatusPrefix(q.status),
      { scope, limit: q.limit, cursor: q.cursor, budget: SCAN_BUDGET },
      async (e) => {
        const r = (await getApproval(kv, e.value)).value;
        return r && ofKind(r) ? r : null;
      },
    );
  }
  const position = q.cursor
    ? JSON.parse(await svc.cursors.unseal(scope, q.cursor)) as Position
    : null;
  const open = await readIndex(kv, "pending", OPEN_CAP);
  let all: ApprovalRequest[];
  if (q.status === "pending") {
    all = open.filter((r) => !isExpired(r, now));
    for (const reg of kinds.values()) {
      if (reg.source) {
        all.push(...(await reg.source.pending(OPEN_CAP)).filter((r) => !isExpired(r, now)));
      }
    }
  } else {
    // the marked ones from the position on, enough for a page, and the unmarked ones
    const marked: ApprovalRequest[] = [];
    const iter = kv.list<string>({
      prefix: keys.approvalsByStatusPrefix("expired"),
      ...(position ? { end: keys.approvalByStatus("expired", position[1]) } : {}),
    }, { reverse: true });
    let scanned = 0;
    for await (const e of iter) {
      const r = (await getApproval(kv, e.value)).value;
      if (r && ofKind(r)) marked.push(r);
      if (marked.length > q.limit || ++scanned >= SCAN_BUDGET) break;
    }
    const lapsed = [...open];
    for (const reg of kinds.values()) {
      if (reg.source) lapsed.push(...await reg.source.pending(OPEN_CAP));
    }
    all = [
      ...marked,
      ...lapsed.filter((r) => isExpired(r, now)).map((r) => ({ ...r, status: "expired" as const })),
    ];
  }
  const page = all.filter(ofKind).filter((r) => !position || isAfter(r, position)).sort(newerFirst);
  const data = page.slice(0, q.limit);
  const last = data.at(-1);
  const more = page.length > q.limit;
  return {
    data,
    next_cursor: more && last
      ? await svc.cursors.seal(scope, JSON.stringify([last.created_at, last.id]))
      : null,
  };
}
