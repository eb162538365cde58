/**
 * The KV Connect test server's database: an ordered map of raw key bytes. The
 * KV key encoding preserves order byte-wise, so ranges are byte ranges and the
 * server never decodes a key; values stay opaque with their encoding. Every
 * commit gets the next versionstamp (8-byte big-endian commit number, then two
 * zero bytes), as denokv's SQLite backend numbers them.
 */
import {
  type AtomicWrite,
  type KvEntry,
  MutationType,
  type ReadRange,
  ValueEncoding,
} from "./datapath.ts";

interface Stored extends KvEntry {
  /** ms since the epoch; 0 never expires */
  expireAtMs: number;
}

export class WriteRefused extends Error {}

export type CommitResult = { ok: true; versionstamp: Uint8Array } | {
  ok: false;
  failedChecks: number[];
};

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function u64(data: Uint8Array, what: string): bigint {
  if (data.length !== 8) throw new WriteRefused(`${what}: a LE64 value must be 8 bytes`);
  return new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
}

function le64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return out;
}

export class OrderedStore {
  #entries: Stored[] = [];
  #version = 0n;
  constructor(private now: () => number = Date.now) {}

  /** Index of the first entry whose key is >= key. */
  #lowerBound(key: Uint8Array): number {
    let lo = 0, hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareBytes(this.#entries[mid].key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #live(e: Stored | undefined): e is Stored {
    return !!e && (e.expireAtMs === 0 || e.expireAtMs > this.now());
  }

  get(key: Uint8Array): KvEntry | null {
    const e = this.#entries[this.#lowerBound(key)];
    return this.#live(e) && compareBytes(e.key, key) === 0 ? e : null;
  }

  /** Entries with start <= key < end, in key order (or reversed), at most limit of them. */
  read(range: ReadRange): KvEntry[] {
    const from = this.#lowerBound(range.start);
    const to = this.#lowerBound(range.end);
    const slice = this.#entries.slice(from, Math.max(from, to)).filter((e) => this.#live(e));
    if (range.reverse) slice.reverse();
    return range.limit > 0 ? slice.slice(0, range.limit) : slice;
  }

  get size(): number {
    return this.#entries.filter((e) => this.#live(e)).length;
  }

  /** Checks, then every mutation, all or nothing. */
  commit(write: AtomicWrite): CommitResult {
    if (write.enqueues > 0) throw new WriteRefused("queues (enqueue) are not supported");
    const failedChecks = write.checks.flatMap((c, i) => {
      const current = this.get(c.key)?.versionstamp ?? new Uint8Array();
      return compareBytes(current, c.versionstamp) === 0 ? [] : [i];
    });
    if (failedChecks.length) return { ok: false, failedChecks };
    const versionstamp = new Uint8Array(10);
    new DataView(versionstamp.buffer).setBigUint64(0, this.#version + 1n, false);
    // Staged first, so a refused mutation leaves nothing written.
    const staged = new Map<string, Stored | null>();
    const current = (key: Uint8Array) => {
      const k = hex(key);
      return staged.has(k) ? staged.get(k)! : this.get(key) as Stored | null;
    };
    for (const m of write.mutations) {
      if (m.sumBounds) throw new WriteRefused("bounded sums are not supported");
      let key = m.key;
      if (m.type === MutationType.SET_SUFFIX_VERSIONSTAMPED_KEY) {
        key = new Uint8Array([...m.key, 0x01, ...versionstamp, 0x00]);
      }
      if (m.type === MutationType.DELETE) {
        staged.set(hex(key), null);
        continue;
      }
      if (!m.value) throw new WriteRefused(`mutation type ${m.type} without a value`);
      let { data, encoding } = m.value;
      if (
        m.type === MutationType.SUM || m.type === MutationType.MIN || m.type === MutationType.MAX
      ) {
        if (encoding !== ValueEncoding.LE64) {
          throw new WriteRefused("sum/min/max need a LE64 (Deno.KvU64) operand");
        }
        const operand = u64(data, "operand");
        const old = current(key);
        if (old) {
          if (old.encoding !== ValueEncoding.LE64) {
            throw new WriteRefused("sum/min/max on a stored value that is not a Deno.KvU64");
          }
          const was = u64(old.value, "stored value");
          const next = m.type === MutationType.SUM
            ? was + operand
            : m.type === MutationType.MIN
            ? (was < operand ? was : operand)
            : (was > operand ? was : operand);
          data = le64(next);
        }
      } else if (
        m.type !== MutationType.SET && m.type !== MutationType.SET_SUFFIX_VERSIONSTAMPED_KEY
      ) {
        throw new WriteRefused(`unknown mutation type ${m.type}`);
      }
      staged.set(hex(key), { key, value: data, encoding, versionstamp, expireAtMs: m.expireAtMs });
    }
    this.#version += 1n;
    for (const [k, e] of staged) this.#apply(k, e);
    return { ok: true, versionstamp };
  }

  #apply(hexKey: string, e: Stored | null) {
    const key = Uint8Array.from(hexKey.match(/../g) ?? [], (h) => parseInt(h, 16));
    const i = this.#lowerBound(key);
    const here = this.#entries[i] && compareBytes(this.#entries[i].key, key) === 0;
    if (e === null) {
      if (here) this.#entries.splice(i, 1);
    } else if (here) this.#entries[i] = e;
    else this.#entries.splice(i, 0, e);
  }
}
