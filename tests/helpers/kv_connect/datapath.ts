/**
 * The KV Connect data path messages (denokv's `com.deno.kv.datapath` schema),
 * decoded from and encoded to protobuf by hand: field numbers are the schema's.
 */
import { allBytesOf, bytesOf, decodeFields, varintOf, Writer } from "./protobuf.ts";

export const ValueEncoding = { V8: 1, LE64: 2, BYTES: 3 } as const;
export const MutationType = {
  SET: 1,
  DELETE: 2,
  SUM: 3,
  MAX: 4,
  MIN: 5,
  SET_SUFFIX_VERSIONSTAMPED_KEY: 9,
} as const;
export const SnapshotReadStatus = { SUCCESS: 1 } as const;
export const AtomicWriteStatus = { SUCCESS: 1, CHECK_FAILURE: 2 } as const;

export interface ReadRange {
  start: Uint8Array;
  end: Uint8Array;
  limit: number;
  reverse: boolean;
}

export interface KvEntry {
  key: Uint8Array;
  value: Uint8Array;
  encoding: number;
  /** 10 bytes */
  versionstamp: Uint8Array;
}

export interface Check {
  key: Uint8Array;
  /** empty: the key must not exist */
  versionstamp: Uint8Array;
}

export interface Mutation {
  key: Uint8Array;
  value: { data: Uint8Array; encoding: number } | null;
  type: number;
  expireAtMs: number;
  /** newer clients' bounds for sums of other number types; this server refuses them */
  sumBounds: boolean;
}

export interface AtomicWrite {
  checks: Check[];
  mutations: Mutation[];
  enqueues: number;
}

export function decodeSnapshotRead(buf: Uint8Array): ReadRange[] {
  return allBytesOf(decodeFields(buf), 1).map((b) => {
    const f = decodeFields(b);
    return {
      start: bytesOf(f, 1),
      end: bytesOf(f, 2),
      limit: Number(BigInt.asIntN(32, varintOf(f, 3))),
      reverse: varintOf(f, 4) !== 0n,
    };
  });
}

export function decodeAtomicWrite(buf: Uint8Array): AtomicWrite {
  const fields = decodeFields(buf);
  const checks = allBytesOf(fields, 1).map((b) => {
    const f = decodeFields(b);
    return { key: bytesOf(f, 1), versionstamp: bytesOf(f, 2) };
  });
  const mutations = allBytesOf(fields, 2).map((b): Mutation => {
    const f = decodeFields(b);
    const hasValue = f.some((x) => x.tag === 2);
    const value = hasValue
      ? (() => {
        const v = decodeFields(bytesOf(f, 2));
        return { data: bytesOf(v, 1), encoding: Number(varintOf(v, 2)) };
      })()
      : null;
    return {
      key: bytesOf(f, 1),
      value,
      type: Number(varintOf(f, 3)),
      expireAtMs: Number(BigInt.asIntN(64, varintOf(f, 4))),
      sumBounds: f.some((x) => x.tag >= 5 && x.tag <= 7),
    };
  });
  return { checks, mutations, enqueues: allBytesOf(fields, 3).length };
}

export function decodeWatch(buf: Uint8Array): Uint8Array[] {
  return allBytesOf(decodeFields(buf), 1).map((b) => bytesOf(decodeFields(b), 1));
}

function entryWriter(e: KvEntry): Writer {
  return new Writer().bytes(1, e.key).bytes(2, e.value).uint(3, e.encoding).bytes(
    4,
    e.versionstamp,
  );
}

export function encodeSnapshotReadOutput(ranges: KvEntry[][]): Uint8Array {
  const w = new Writer();
  for (const values of ranges) {
    const r = new Writer();
    for (const e of values) r.message(1, entryWriter(e));
    w.message(1, r);
  }
  return w.uint(4, true).uint(8, SnapshotReadStatus.SUCCESS).finish();
}

export function encodeAtomicWriteOutput(
  out: { ok: true; versionstamp: Uint8Array } | { ok: false; failedChecks: number[] },
): Uint8Array {
  const w = new Writer();
  if (out.ok) return w.uint(1, AtomicWriteStatus.SUCCESS).bytes(2, out.versionstamp).finish();
  return w.uint(1, AtomicWriteStatus.CHECK_FAILURE).uints(4, out.failedChecks).finish();
}

/** One WatchOutput: for each watched key, whether it changed and, if so, its entry (or none). */
export function encodeWatchOutput(keys: { changed: boolean; entry: KvEntry | null }[]) {
  const w = new Writer().uint(1, SnapshotReadStatus.SUCCESS);
  for (const k of keys) {
    const kw = new Writer().uint(1, k.changed);
    if (k.changed && k.entry) kw.message(2, entryWriter(k.entry));
    w.message(2, kw);
  }
  return w.finish();
}
