/**
 * The counters record every event of a customer reads (its balances and
 * aggregates), as this process last wrote or read it, with its versionstamp.
 * Keeping it saves a payment event one of the three keys it reads, on KV's
 * thread and on the isolate's.
 *
 * Only for reads that are checked at commit: an entry gone stale (another
 * isolate, or a commit outside the group committer, wrote the key) makes the
 * commit that relied on it fail its check; the caller then forgets what it
 * checked and builds again from KV (kv/group_commit.ts). An entry
 * is also dropped after `ttlMs`, so a key another isolate writes is read
 * afresh at least that often.
 */
import type { Clock } from "../core/clock.ts";
import { keys } from "./keys.ts";

interface Cached {
  entry: Deno.KvEntryMaybe<unknown>;
  at: number;
}

const DEFAULT_MAX_ENTRIES = 20_000;
const DEFAULT_TTL_MS = 10_000;

// `["customers", id, "aggregates"]`
const [CUSTOMERS, , AGGREGATES] = keys.customerAggregates("");

/** The keys kept: a customer's counters record. */
function cacheable(key: Deno.KvKey): boolean {
  return key.length === 3 && key[0] === CUSTOMERS && key[2] === AGGREGATES;
}

export class CounterCache {
  readonly #entries = new Map<string, Cached>();
  readonly #clock: Clock;
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(clock: Clock, options: { maxEntries?: number; ttlMs?: number } = {}) {
    this.#clock = clock;
    this.#max = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  }

  /** The entry as last seen here, or null when not kept (or kept too long). */
  get<T>(key: Deno.KvKey): Deno.KvEntryMaybe<T> | null {
    const id = JSON.stringify(key);
    const hit = this.#entries.get(id);
    if (!hit) return null;
    if (this.#clock.now() - hit.at > this.#ttlMs) {
      this.#entries.delete(id);
      return null;
    }
    return hit.entry as Deno.KvEntryMaybe<T>;
  }

  /** An entry read from KV; kept unless a newer one is. */
  fill(entry: Deno.KvEntryMaybe<unknown>): void {
    if (!cacheable(entry.key)) return;
    const id = JSON.stringify(entry.key);
    const kept = this.#entries.get(id)?.entry.versionstamp ?? null;
    if (kept !== null && (entry.versionstamp === null || entry.versionstamp < kept)) return;
    this.#put(id, entry);
  }

  /** What a commit that landed with `versionstamp` wrote (only the keys kept here). */
  wrote(key: Deno.KvKey, value: unknown, versionstamp: string): void {
    if (!cacheable(key)) return;
    this.#put(JSON.stringify(key), { key, value, versionstamp });
  }

  /** Drops entries by their `JSON.stringify(key)` (a refused commit's checked keys). */
  forget(ids: Iterable<string>): void {
    for (const id of ids) this.#entries.delete(id);
  }

  get size(): number {
    return this.#entries.size;
  }

  #put(id: string, entry: Deno.KvEntryMaybe<unknown>): void {
    this.#entries.delete(id); // re-inserted last: the Map's order is the eviction order
    this.#entries.set(id, { entry, at: this.#clock.now() });
    if (this.#entries.size > this.#max) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }
}
