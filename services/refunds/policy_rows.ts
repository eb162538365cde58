/**
 * The approval policy's view of each operator's refunds of the last 24 h,
 * kept in the process so a request does not list them all (README, "Refund
 * approval policy"; at hundreds of refunds a day the list was most of a
 * refund's own time).
 *
 * Exact, not a guess. Every write of an operator's index row adds 1 to the
 * operator's version in the same commit (kv/refunds.ts `addRequesterRow`),
 * and each row counts its own writes (`w`). A request reads, in one snapshot,
 * the mark, the version and the rows that may have moved since they were kept
 * (`watched`: those not settled yet, and those this process has just asked
 * for). When the watched rows' counts rose by exactly as much as the version,
 * no other row was written: the kept rows, brought up to date, are the rows
 * in KV. Anything else (a row another process created, a settled refund
 * changed again, a row without a count) lists them again.
 *
 * Also listed again: after `REFRESH_MS`, when the mark names a refund the
 * rows lack, and when too many rows are watched. The payments' customers and
 * cards are kept once one of them is known: a payment with a refund is paid,
 * and a paid payment's customer does not change (README, "Transactions and
 * money edges"), nor does the card it was paid with.
 */
import type { Clock } from "../../core/clock.ts";
import { idTime } from "../../core/ids.ts";
import { isUndecided, type RefundStatus } from "../../domain/refund.ts";
import type { RequesterRow } from "../../kv/refunds.ts";
import {
  getRequesterState,
  getRequesterVersion,
  listRequesterRowsSince,
  markCovers,
  type Payer,
  readPayers,
  readRequesterSnapshot,
  type RecentRefund,
  type RequesterMark,
  type RequesterSnapshot,
} from "../../kv/refund_policy.ts";

/** A full list at least this often per operator (also bounds a row written without the version). */
export const REFRESH_MS = 60_000;
/** more rows than this to watch: list instead */
const MAX_WATCHED = 40;
/** operators kept, and rows kept for all of them together (a few hundred bytes each) */
const LIMITS = { operators: 256, rows: 100_000 };
const MAX_CUSTOMERS = 50_000;

interface KeptRow {
  row: RequesterRow;
  versionstamp: string;
  /** when the refund was created (its id's time, decoded once) */
  at: number;
}

interface Kept {
  version: bigint;
  rows: Map<string, KeptRow>;
  listedAt: number;
  sinceMs: number;
}

export interface PolicyRead {
  mark: Deno.KvEntryMaybe<number | RequesterMark>;
  /** the operator's refunds created at or after the window's start */
  rows: RequesterRow[];
}

/** Statuses a row may still leave (others change rarely: a full list catches them). */
function mayMove(status: RefundStatus): boolean {
  return isUndecided(status) || status === "pending" || status === "requires_action";
}

export class RequesterRows {
  readonly #kv: Deno.Kv;
  readonly #clock: Clock;
  readonly #kept = new Map<string, Kept>();
  /** rows in `#kept`, all operators */
  #keptRows = 0;
  /** per operator, refunds this process asked for (ms asked): watched until their row shows */
  readonly #asked = new Map<string, Map<string, number>>();
  readonly #payers = new Map<string, Payer>();
  /** full lists made (tests count them) */
  lists = 0;

  readonly #limits: typeof LIMITS;

  constructor(kv: Deno.Kv, clock: Clock, limits: Partial<typeof LIMITS> = {}) {
    this.#kv = kv;
    this.#clock = clock;
    this.#limits = { ...LIMITS, ...limits };
  }

  /** rows kept now, all operators */
  get keptRows(): number {
    return this.#keptRows;
  }

  /** The operator's mark and rows of the window from `sinceMs`, as of one moment. */
  async read(requester: string, sinceMs: number): Promise<PolicyRead> {
    const kept = this.#usable(requester, sinceMs);
    if (kept) {
      const watched = this.#watched(requester, kept);
      if (watched.length <= MAX_WATCHED) {
        const snap = await readRequesterSnapshot(this.#kv, requester, watched);
        if (snap && this.#catchUp(kept, snap, watched)) {
          const rows = windowOf(kept, sinceMs);
          if (markCovers(snap.mark.value, rows, sinceMs)) return { mark: snap.mark, rows };
        }
      }
    }
    return await this.#list(requester, sinceMs);
  }

  /** A refund this process is about to ask for: its row is watched until it shows. */
  asked(requester: string, refundId: string): void {
    let asked = this.#asked.get(requester);
    if (!asked) {
      if (this.#asked.size >= this.#limits.operators) {
        this.#asked.delete(this.#asked.keys().next().value!);
      }
      this.#asked.set(requester, asked = new Map());
    }
    const now = this.#clock.now();
    // oldest first: those asked longer ago than a refresh are no longer watched
    for (const [id, at] of asked) {
      if (now - at <= REFRESH_MS) break;
      asked.delete(id);
    }
    asked.set(refundId, now);
  }

  /**
   * `rows` with their payments' customers and cards (those with either known
   * are not read again: a paid payment's customer and card stay).
   */
  async withPayers(rows: RequesterRow[]): Promise<RecentRefund[]> {
    const unknown = [...new Set(rows.map((r) => r.transaction_id))]
      .filter((id) => !this.#payers.has(id));
    const read = unknown.length ? await readPayers(this.#kv, unknown) : new Map<string, Payer>();
    for (const [txn, payer] of read) {
      // a guest payment's card is kept too: a paid payment's card does not change either
      if (payer.customer === null && payer.card === null) continue;
      if (this.#payers.size >= MAX_CUSTOMERS) {
        this.#payers.delete(this.#payers.keys().next().value!); // the oldest first
      }
      this.#payers.set(txn, payer);
    }
    return rows.map((r) => {
      const payer = this.#payers.get(r.transaction_id) ?? read.get(r.transaction_id);
      return { ...r, customer: payer?.customer ?? null, card: payer?.card ?? null };
    });
  }

  #usable(requester: string, sinceMs: number): Kept | null {
    const kept = this.#kept.get(requester);
    if (!kept) return null;
    if (this.#clock.now() - kept.listedAt > REFRESH_MS || sinceMs < kept.sinceMs) {
      this.#forget(requester);
      return null;
    }
    return kept;
  }

  #watched(requester: string, kept: Kept): string[] {
    const now = this.#clock.now();
    const asked = this.#asked.get(requester) ?? new Map<string, number>();
    for (const [id, at] of asked) {
      if (kept.rows.has(id) || now - at > REFRESH_MS) asked.delete(id);
    }
    const moving = [...kept.rows.values()].filter((r) => mayMove(r.row.status));
    return [...asked.keys(), ...moving.map((r) => r.row.id)];
  }

  /** Brings `kept` to `snap`; false when something moved that was not watched. */
  #catchUp(kept: Kept, snap: RequesterSnapshot, watched: string[]): boolean {
    const moved: KeptRow[] = [];
    let writes = 0;
    for (const [i, e] of snap.rows.entries()) {
      const had = kept.rows.get(watched[i]);
      if (e.versionstamp === (had?.versionstamp ?? null)) continue;
      // gone, an id-only row, or a row (or a kept one) without its count: list
      if (e.value === null || typeof e.value !== "object" || e.value.w === undefined) return false;
      const before = had ? had.row.w : 0;
      if (before === undefined || e.value.w <= before) return false; // a moved row was written
      writes += e.value.w - before;
      moved.push({ row: e.value, versionstamp: e.versionstamp, at: idTime(e.value.id) });
    }
    // another read may have brought `kept` past this snapshot: only an exact step is taken
    if (snap.version !== kept.version + BigInt(writes)) return false;
    for (const m of moved) {
      if (!kept.rows.has(m.row.id)) this.#keptRows++;
      kept.rows.set(m.row.id, m);
    }
    kept.version = snap.version;
    return true;
  }

  /**
   * Lists the rows after reading the mark (so they hold every request it
   * covers); kept only when the version did not move while listing.
   */
  async #list(requester: string, sinceMs: number): Promise<PolicyRead> {
    this.lists++;
    const state = await getRequesterState(this.#kv, requester);
    const listed = await listRequesterRowsSince(this.#kv, requester, sinceMs);
    const rows = listed.map((l) => l.row);
    this.#forget(requester);
    if (await getRequesterVersion(this.#kv, requester) === state.version) {
      this.#keep(requester, {
        version: state.version,
        rows: new Map(listed.map((l) => [l.row.id, { ...l, at: idTime(l.row.id) }])),
        listedAt: this.#clock.now(),
        sinceMs,
      });
    }
    return { mark: state.mark, rows };
  }

  /**
   * Keeps `kept` (the operator's earlier rows already forgotten), forgetting
   * the operators kept longest while there is no room for it.
   */
  #keep(requester: string, kept: Kept): void {
    const { operators, rows } = this.#limits;
    if (kept.rows.size > rows) return;
    while (
      this.#kept.size > 0 &&
      (this.#kept.size >= operators || this.#keptRows + kept.rows.size > rows)
    ) {
      this.#forget(this.#kept.keys().next().value!);
    }
    this.#kept.set(requester, kept);
    this.#keptRows += kept.rows.size;
  }

  #forget(requester: string): void {
    const kept = this.#kept.get(requester);
    if (!kept) return;
    this.#keptRows -= kept.rows.size;
    this.#kept.delete(requester);
  }
}

/** The kept rows of refunds created at or after `sinceMs` (by id, as the list's bound is). */
function windowOf(kept: Kept, sinceMs: number): RequesterRow[] {
  const out: RequesterRow[] = [];
  for (const { row, at } of kept.rows.values()) if (at >= sinceMs) out.push(row);
  return out;
}
