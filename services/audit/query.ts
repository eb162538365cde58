/**
 * Reading the audit log: filters, pages newest first, and the walk the
 * export streams. A filter on actor, action or target walks that index;
 * `from`/`to` are turned into a seq range by binary search, which is exact
 * because `at` never decreases along the chain (see `chainEntries`).
 */
import type { Deps } from "../deps.ts";
import {
  type AuditIndex,
  getEntries,
  getEntry,
  indexPart,
  iterateEntries,
  iterateIndex,
  readHead,
  type SeqRange,
} from "../../kv/audit.ts";
import type { AuditEntry, AuditHead } from "../../domain/audit_entry.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import { validationFailed } from "../../core/errors.ts";

export interface AuditFilters {
  actor?: string;
  action?: string;
  /** a target id (`rfd_…`, `ch_…`, …) */
  target?: string;
  /** ms since epoch, inclusive */
  from?: number;
  /** ms since epoch, inclusive */
  to?: number;
}

export interface AuditQuery extends AuditFilters {
  /** 1–100 */
  limit: number;
  cursor?: string;
}

/**
 * A filtered page scans at most this many rows before handing back a cursor, so one request's
 * work stays bounded however sparse the matches: the page may then hold fewer than `limit`, even
 * none, while more exist (README, "A first session, in curl": follow `next_cursor` to null).
 */
const SCAN_BUDGET = 2000;

/** First seq whose `at` satisfies `ok`, assuming `ok` flips from false to true once along the chain. */
async function firstSeqWhere(
  kv: Deno.Kv,
  last: number,
  ok: (entry: AuditEntry) => boolean,
): Promise<number> {
  let lo = 1;
  let hi = last + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const entry = await getEntry(kv, mid);
    // A missing entry (a broken chain) counts as "not yet": verify reports it.
    if (entry && ok(entry)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The seqs whose time lies in `[from, to]`, within the chain as it is now; null when none. */
async function seqRange(kv: Deno.Kv, filters: AuditFilters): Promise<Required<SeqRange> | null> {
  return await seqRangeUpTo(kv, filters, (await readHead(kv)).value);
}

/** `seqRange` within the chain up to `head`. */
async function seqRangeUpTo(
  kv: Deno.Kv,
  filters: AuditFilters,
  head: AuditHead | null,
): Promise<Required<SeqRange> | null> {
  if (!head) return null;
  const { from, to } = filters;
  if (from !== undefined && to !== undefined && from > to) return null;
  const low = from === undefined ? 1 : await firstSeqWhere(kv, head.seq, (e) => e.at >= from);
  const high = to === undefined
    ? head.seq
    : (await firstSeqWhere(kv, head.seq, (e) => e.at > to)) - 1;
  return low <= high ? { from: low, to: high } : null;
}

function matches(entry: AuditEntry, f: AuditFilters): boolean {
  return (f.actor === undefined || indexPart(entry.actor.id) === indexPart(f.actor)) &&
    (f.action === undefined || indexPart(entry.action) === indexPart(f.action)) &&
    (f.target === undefined || (entry.target !== null &&
      indexPart(entry.target.id) === indexPart(f.target))) &&
    (f.from === undefined || entry.at >= f.from) &&
    (f.to === undefined || entry.at <= f.to);
}

function chooseIndex(f: AuditFilters): { index: AuditIndex; value: string } | null {
  if (f.target !== undefined) return { index: "target", value: f.target };
  if (f.actor !== undefined) return { index: "actor", value: f.actor };
  if (f.action !== undefined) return { index: "action", value: f.action };
  return null;
}

/**
 * Matching entries in `range`, newest first or oldest first, with the seq of
 * each row scanned (so a page can stop anywhere and resume after it).
 */
export async function* scanMatching(
  kv: Deno.Kv,
  filters: AuditFilters,
  range: SeqRange,
  reverse: boolean,
): AsyncGenerator<{ seq: number; entry: AuditEntry | null }> {
  const index = chooseIndex(filters);
  if (!index) {
    for await (const { keySeq, entry } of iterateEntries(kv, range, reverse)) {
      yield { seq: keySeq, entry: matches(entry, filters) ? entry : null };
    }
    return;
  }
  let seqs: number[] = [];
  const flush = async function* () {
    const entries = await getEntries(kv, seqs);
    for (let i = 0; i < seqs.length; i++) {
      const e = entries[i];
      yield { seq: seqs[i], entry: e && matches(e, filters) ? e : null };
    }
    seqs = [];
  };
  for await (const seq of iterateIndex(kv, index.index, index.value, range, reverse)) {
    seqs.push(seq);
    if (seqs.length === 50) yield* flush();
  }
  yield* flush();
}

function scopeOf(f: AuditFilters): string {
  return `audit:${JSON.stringify([f.actor, f.action, f.target, f.from, f.to])}`;
}

/** Both ends are inclusive, so `from === to` is one instant; `from` after `to` is a mistake. */
export const TIME_RANGE_MESSAGE = "to must be at or after from (both are inclusive)";

/**
 * For the routes: a swapped range is refused rather than answered with nothing, as on the
 * transactions listing (`list` itself answers an empty page).
 */
export function checkTimeRange(f: AuditFilters): void {
  if (f.from !== undefined && f.to !== undefined && f.from > f.to) {
    throw validationFailed([{ path: "query.to", message: TIME_RANGE_MESSAGE }]);
  }
}

/** One page, newest first. The cursor is the sealed seq to continue below. */
export async function listAuditLog(
  deps: Deps,
  cursors: CursorSealer,
  query: AuditQuery,
): Promise<Page<AuditEntry>> {
  const { kv } = deps;
  const scope = scopeOf(query);
  let below: number | undefined;
  if (query.cursor) {
    const raw = await cursors.unseal(scope, query.cursor);
    below = Number(raw);
    if (!Number.isInteger(below) || below < 1) {
      throw validationFailed([{ path: "query.cursor", message: "invalid cursor" }]);
    }
  }
  const range = await seqRange(kv, query);
  if (!range) return { data: [], next_cursor: null };
  if (below !== undefined) range.to = Math.min(range.to, below - 1);
  if (range.to < range.from) return { data: [], next_cursor: null };

  const data: AuditEntry[] = [];
  let scanned = 0;
  let lastSeq = range.to + 1;
  for await (const row of scanMatching(kv, query, range, true)) {
    if (row.entry) {
      if (data.length === query.limit) {
        // One more match exists: the next page starts below the last one returned.
        return { data, next_cursor: await cursors.seal(scope, String(data.at(-1)!.seq)) };
      }
      data.push(row.entry);
    }
    lastSeq = row.seq;
    if (++scanned >= SCAN_BUDGET) {
      // Sparse matches under several filters: hand back what was found and where to go on.
      return { data, next_cursor: await cursors.seal(scope, String(lastSeq)) };
    }
  }
  return { data, next_cursor: null };
}

/** What an export walks: the head when it starts, and the seqs its time range covers in it. */
export interface ExportScope {
  /** the chain's head when the walk starts (null: no entry yet) */
  head: AuditHead | null;
  /** the seqs within `from`/`to` up to that head; null when none */
  range: Required<SeqRange> | null;
}

export async function exportScope(kv: Deno.Kv, filters: AuditFilters): Promise<ExportScope> {
  const head = (await readHead(kv)).value;
  return { head, range: await seqRangeUpTo(kv, filters, head) };
}

/** Every matching entry in `range` (an `exportScope`'s), oldest first. */
export async function* allMatching(
  kv: Deno.Kv,
  filters: AuditFilters,
  range: Required<SeqRange> | null,
): AsyncGenerator<AuditEntry> {
  if (!range) return;
  for await (const row of scanMatching(kv, filters, range, false)) {
    if (row.entry) yield row.entry;
  }
}
