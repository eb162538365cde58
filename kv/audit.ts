/**
 * The audit log's storage: `["audit", seq]` entries, one head key, three
 * indexes holding the seq, and signed checkpoints. Entries are only ever
 * added: no function here updates or deletes one.
 */
import { keys } from "./keys.ts";
import type { AuditCheckpoint, AuditEntry, AuditHead } from "../domain/audit_entry.ts";

/** Index key parts are capped so a batch stays under KV's 80 KiB total key size. */
export const INDEX_PART_MAX = 200;

export function indexPart(value: string): string {
  return value.length > INDEX_PART_MAX ? value.slice(0, INDEX_PART_MAX) : value;
}

export function readHead(kv: Deno.Kv): Promise<Deno.KvEntryMaybe<AuditHead>> {
  return kv.get<AuditHead>(keys.auditHead());
}

export type AuditIndex = "actor" | "action" | "target";

/** The value `index` files `entry` under (an index key's middle part); null: not in it. */
export function indexValueOf(entry: AuditEntry, index: AuditIndex): string | null {
  const value = index === "actor"
    ? entry.actor.id
    : index === "action"
    ? entry.action
    : entry.target?.id;
  return value === undefined ? null : indexPart(value);
}

export const AUDIT_INDEXES: readonly AuditIndex[] = ["actor", "action", "target"];

const INDEX_KEY: Record<AuditIndex, (value: string, seq: number) => Deno.KvKey> = {
  actor: keys.auditByActor,
  action: keys.auditByAction,
  target: keys.auditByTarget,
};

/** The index rows an entry has (each holds the entry's seq): what `addEntries` writes. */
export function indexRowsOf(
  entry: AuditEntry,
  seq = entry.seq,
): { index: AuditIndex; key: Deno.KvKey }[] {
  const rows: { index: AuditIndex; key: Deno.KvKey }[] = [];
  for (const index of AUDIT_INDEXES) {
    const value = indexValueOf(entry, index);
    if (value !== null) rows.push({ index, key: INDEX_KEY[index](value, seq) });
  }
  return rows;
}

/** Adds the entries (already chained from `head`), their indexes and the new head to `op`. */
export function addEntries(
  op: Deno.AtomicOperation,
  head: Deno.KvEntryMaybe<AuditHead>,
  entries: AuditEntry[],
): void {
  op.check(head);
  for (const e of entries) {
    op.set(keys.auditEntry(e.seq), e);
    for (const row of indexRowsOf(e)) op.set(row.key, e.seq);
  }
  const last = entries[entries.length - 1];
  if (last) {
    op.set(keys.auditHead(), { seq: last.seq, hash: last.hash, at: last.at } satisfies AuditHead);
  }
}

/** The head and one entry, read in one consistent snapshot. */
export async function readHeadAndEntry(
  kv: Deno.Kv,
  seq: number,
): Promise<{ head: AuditHead | null; next: AuditEntry | null }> {
  const [head, entry] = await kv.getMany<[AuditHead, AuditEntry]>([
    keys.auditHead(),
    keys.auditEntry(seq),
  ]);
  return { head: head.value, next: entry.value };
}

export async function getEntry(kv: Deno.Kv, seq: number): Promise<AuditEntry | null> {
  return (await kv.get<AuditEntry>(keys.auditEntry(seq))).value;
}

export interface SeqRange {
  /** first seq, inclusive (default 1) */
  from?: number;
  /** last seq, inclusive (default: no bound) */
  to?: number;
}

function entrySelector(range: SeqRange): Deno.KvListSelector {
  const start = keys.auditEntry(range.from ?? 1);
  return range.to === undefined
    ? { prefix: keys.auditEntriesPrefix(), start }
    : { start, end: keys.auditEntry(range.to + 1) };
}

/** Entries in seq order (or newest first), streamed in KV batches: never all in memory. */
export async function* iterateEntries(
  kv: Deno.Kv,
  range: SeqRange = {},
  reverse = false,
): AsyncGenerator<{ keySeq: number; entry: AuditEntry }> {
  for await (const row of kv.list<AuditEntry>(entrySelector(range), { reverse, batchSize: 200 })) {
    yield { keySeq: row.key[1] as number, entry: row.value };
  }
}

const INDEX_PREFIX: Record<AuditIndex, (value: string) => Deno.KvKey> = {
  actor: keys.auditByActorPrefix,
  action: keys.auditByActionPrefix,
  target: keys.auditByTargetPrefix,
};

/** Seqs in one index within a seq range, streamed. */
export async function* iterateIndex(
  kv: Deno.Kv,
  index: AuditIndex,
  value: string,
  range: SeqRange,
  reverse: boolean,
): AsyncGenerator<number> {
  const prefix = INDEX_PREFIX[index](indexPart(value));
  const start = [...prefix, range.from ?? 1];
  const selector: Deno.KvListSelector = range.to === undefined
    ? { prefix, start }
    : { start, end: [...prefix, range.to + 1] };
  for await (const row of kv.list<number>(selector, { reverse, batchSize: 200 })) {
    yield row.value;
  }
}

const INDEX_ROOT: Record<AuditIndex, () => Deno.KvKey> = {
  actor: keys.auditByActorRoot,
  action: keys.auditByActionRoot,
  target: keys.auditByTargetRoot,
};

/** Every row of one index, in key order, streamed (the value is whatever is stored). */
export async function* iterateIndexRows(
  kv: Deno.Kv,
  index: AuditIndex,
): AsyncGenerator<{ key: Deno.KvKey; value: unknown }> {
  for await (const row of kv.list({ prefix: INDEX_ROOT[index]() }, { batchSize: 500 })) {
    yield { key: row.key, value: row.value };
  }
}

/** The values stored at `rowKeys` (null where none), in order. */
export async function getIndexRows(kv: Deno.Kv, rowKeys: Deno.KvKey[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < rowKeys.length; i += 10) {
    const rows = await kv.getMany(rowKeys.slice(i, i + 10));
    out.push(...rows.map((r) => r.value));
  }
  return out;
}

/** The newest audit entry about `targetId` (its target index), or null when none. */
export async function latestEntryAbout(kv: Deno.Kv, targetId: string): Promise<AuditEntry | null> {
  for await (const seq of iterateIndex(kv, "target", targetId, {}, true)) {
    return await getEntry(kv, seq);
  }
  return null;
}

export async function getEntries(kv: Deno.Kv, seqs: number[]): Promise<(AuditEntry | null)[]> {
  const out: (AuditEntry | null)[] = [];
  for (let i = 0; i < seqs.length; i += 10) {
    const rows = await kv.getMany<AuditEntry[]>(
      seqs.slice(i, i + 10).map((s) => keys.auditEntry(s)),
    );
    out.push(...rows.map((r) => r.value));
  }
  return out;
}

/** Records a checkpoint once; a second one for the same seq is refused (returns false). */
export async function addCheckpoint(kv: Deno.Kv, cp: AuditCheckpoint): Promise<boolean> {
  const key = keys.auditCheckpoint(cp.seq);
  const res = await kv.atomic().check({ key, versionstamp: null }).set(key, cp).commit();
  return res.ok;
}

export async function getCheckpoint(kv: Deno.Kv, seq: number): Promise<AuditCheckpoint | null> {
  return (await kv.get<AuditCheckpoint>(keys.auditCheckpoint(seq))).value;
}

export async function latestCheckpoint(kv: Deno.Kv): Promise<AuditCheckpoint | null> {
  for await (
    const row of kv.list<AuditCheckpoint>({ prefix: keys.auditCheckpointsPrefix() }, {
      reverse: true,
      limit: 1,
    })
  ) return row.value;
  return null;
}

/** Checkpoints in seq order, streamed. */
export async function* iterateCheckpoints(kv: Deno.Kv): AsyncGenerator<AuditCheckpoint> {
  for await (
    const row of kv.list<AuditCheckpoint>({ prefix: keys.auditCheckpointsPrefix() }, {
      batchSize: 200,
    })
  ) yield row.value;
}
