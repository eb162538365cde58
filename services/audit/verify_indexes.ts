/**
 * A full verify's check of the filter indexes against the entries, both ways
 * (README, "Audit checkpoints", `index_mismatch`): the list and the export
 * read an index to find the entries an `actor`, `action` or `target` filter
 * names, so a deleted row hides its entry from every filtered view and a
 * forged one shows an entry under a name it does not have.
 *
 * Each entry's own rows are read as the walk passes it (a few entries to a
 * read); then each index's rows are counted. Every entry having its rows, and
 * as many rows as entries, means no row more. Only when a count is off are
 * the rows read against their entries, to name the row. Memory stays a few
 * entries and rows at a time, however long the log.
 */
import {
  AUDIT_INDEXES,
  type AuditIndex,
  getEntries,
  getIndexRows,
  indexRowsOf,
  indexValueOf,
  iterateIndexRows,
  readHead,
} from "../../kv/audit.ts";
import type { AuditEntry } from "../../domain/audit_entry.ts";

export interface IndexProblem {
  seq: number;
  detail: string;
}

/** Entries whose rows are read together (three rows each at most: one read of ten keys). */
const ENTRIES_PER_READ = 3;

const show = (key: Deno.KvKey) => JSON.stringify(key);

export class IndexCheck {
  /** the rows each index should hold: one per entry walked (with a target, for `target`) */
  #seen: Record<AuditIndex, number> = { actor: 0, action: 0, target: 0 };

  constructor(private readonly kv: Deno.Kv) {}

  /** Hands on each row of `entries` (as the walk reads them) with its own index rows' problem. */
  async *annotate<T extends { keySeq: number; entry: AuditEntry }>(
    entries: AsyncIterable<T>,
  ): AsyncGenerator<T & { indexProblem: string | null }> {
    let batch: T[] = [];
    for await (const row of entries) {
      batch.push(row);
      if (batch.length === ENTRIES_PER_READ) {
        yield* this.#withProblems(batch);
        batch = [];
      }
    }
    yield* this.#withProblems(batch);
  }

  async *#withProblems<T extends { keySeq: number; entry: AuditEntry }>(
    batch: T[],
  ): AsyncGenerator<T & { indexProblem: string | null }> {
    const problems = await this.#ownRows(batch);
    for (let i = 0; i < batch.length; i++) yield { ...batch[i], indexProblem: problems[i] };
  }

  async #ownRows(batch: { keySeq: number; entry: AuditEntry }[]): Promise<(string | null)[]> {
    const wanted = batch.map(({ keySeq, entry }) => indexRowsOf(entry, keySeq));
    const values = await getIndexRows(this.kv, wanted.flat().map((r) => r.key));
    let at = 0;
    return wanted.map((rows, i) => {
      let problem: string | null = null;
      for (const row of rows) {
        this.#seen[row.index]++;
        const value = values[at++];
        if (problem) continue;
        const seq = batch[i].keySeq;
        if (value === null) {
          problem = `entry ${seq}'s index row ${show(row.key)} is gone: the ${row.index} ` +
            "filter does not find it";
        } else if (value !== seq) {
          problem = `entry ${seq}'s index row ${show(row.key)} holds ${JSON.stringify(value)}, ` +
            `not ${seq}`;
        }
      }
      return problem;
    });
  }

  /**
   * After a walk of entries 1..`headSeq` that found each entry's rows: a row
   * more than the entries account for. `below`: only rows before that seq
   * (the walk stopped at an index problem there).
   */
  async extraRows(headSeq: number, below?: number): Promise<IndexProblem | null> {
    this.#headNow = headSeq;
    if (below === undefined && await this.#countsAgree(headSeq)) return null;
    let best: IndexProblem | null = null;
    for (const index of AUDIT_INDEXES) {
      const found = await this.#firstBadRow(index, headSeq, best?.seq ?? below);
      if (found && (!best || found.seq < best.seq)) best = found;
    }
    if (best || below !== undefined) return best;
    return {
      seq: headSeq,
      detail: `the indexes hold rows the ${headSeq} entries do not account for`,
    };
  }

  /** the head as last read: rows up to it whose seq is past the walk's are appends since */
  #headNow = 0;

  /**
   * Whether entry `seq` is within the chain now. A row is written in its
   * entry's commit, which moves the head: the head read after the row was
   * listed reaches it, unless the row was made by hand.
   */
  async #reaches(seq: number): Promise<boolean> {
    if (seq > this.#headNow) {
      this.#headNow = Math.max(this.#headNow, (await readHead(this.kv)).value?.seq ?? 0);
    }
    return seq <= this.#headNow;
  }

  async #countsAgree(headSeq: number): Promise<boolean> {
    for (const index of AUDIT_INDEXES) {
      let rows = 0;
      let past = 0;
      for await (const { key } of iterateIndexRows(this.kv, index)) {
        const seq = key[2];
        if (key.length !== 3 || !Number.isSafeInteger(seq) || (seq as number) < 1) return false;
        if ((seq as number) <= headSeq) rows++;
        else past = Math.max(past, seq as number);
      }
      if (rows !== this.#seen[index]) return false;
      if (past > 0 && !await this.#reaches(past)) return false;
    }
    return true;
  }

  /** The lowest-seq row of `index` (before `below`) that names no entry or the wrong one. */
  async #firstBadRow(
    index: AuditIndex,
    headSeq: number,
    below = Infinity,
  ): Promise<IndexProblem | null> {
    let best: IndexProblem | null = null;
    let pending: { key: Deno.KvKey; seq: number }[] = [];
    const judge = async () => {
      const entries = await getEntries(this.kv, pending.map((p) => p.seq));
      pending.forEach(({ key, seq }, i) => {
        const entry = entries[i];
        const detail = entry === null
          ? `index row ${show(key)} names no entry ${seq}`
          : indexValueOf(entry, index) !== key[1]
          ? `index row ${show(key)} names entry ${seq}, whose ${index} is ` +
            JSON.stringify(indexValueOf(entry, index))
          : null;
        if (detail && (!best || seq < best.seq)) best = { seq, detail };
      });
      pending = [];
    };
    for await (const { key, value } of iterateIndexRows(this.kv, index)) {
      const seq = key[2];
      const limit = Math.min(below, best?.seq ?? Infinity);
      if (key.length !== 3 || !Number.isSafeInteger(seq) || (seq as number) < 1) {
        if (!best || best.seq > 0) {
          best = { seq: 0, detail: `index row ${show(key)} names no entry` };
        }
        continue;
      }
      const s = seq as number;
      if (s >= limit) continue;
      if (s > headSeq) {
        // an entry added since the walk began is the next verify's; past the head, none is
        if (!await this.#reaches(s)) {
          best = { seq: s, detail: `index row ${show(key)} names no entry ${s}` };
        }
        continue;
      }
      if (value !== s) {
        best = {
          seq: s,
          detail: `index row ${show(key)} holds ${JSON.stringify(value)}, not ${s}`,
        };
        continue;
      }
      pending.push({ key, seq: s });
      if (pending.length === 10) await judge();
    }
    await judge();
    return best;
  }
}
