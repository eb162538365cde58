/**
 * Deno KV's limits, stated once, and the share of them a batch may fill.
 *
 * Every batching writer (the ingest group committer, the webhook intake and
 * settle batches, the audit appender) sizes its batches with `BatchMeter`
 * against `KV_BATCH`, so they all stop at the same margin below KV's limits.
 */
export const KV_LIMITS = {
  /** mutations (set, delete, sum, …) in one atomic operation */
  mutationsPerOp: 1000,
  /** `check`s in one atomic operation */
  checksPerOp: 100,
  /** total size of one atomic operation: keys and values */
  bytesPerOp: 800 * 1024,
  /** total size of the keys of one atomic operation */
  keyBytesPerOp: 80 * 1024,
  /** one value */
  valueBytes: 64 * 1024,
} as const;

/**
 * A batch fills at most this share of any per-operation limit: byte counts
 * are estimates, and an audited change's own writes share the op with its
 * entries.
 */
export const KV_MARGIN = 0.6;

/** What a batch may hold: `KV_LIMITS` times `KV_MARGIN`. */
export const KV_BATCH = {
  mutations: Math.floor(KV_LIMITS.mutationsPerOp * KV_MARGIN),
  checks: Math.floor(KV_LIMITS.checksPerOp * KV_MARGIN),
  bytes: Math.floor(KV_LIMITS.bytesPerOp * KV_MARGIN),
} as const;

/** What one item adds to a batch; omitted parts count as nothing. */
export interface BatchCost {
  mutations?: number;
  checks?: number;
  bytes?: number;
}

/**
 * Counts a batch being filled. The first item always fits (alone it meets
 * KV's own answer); a later one fits while the batch stays within `maxItems`
 * and `KV_BATCH`.
 */
export class BatchMeter {
  items = 0;
  mutations = 0;
  checks = 0;
  bytes = 0;
  readonly maxItems: number;

  constructor(maxItems: number) {
    this.maxItems = maxItems;
  }

  fits(cost: BatchCost): boolean {
    if (this.items === 0) return true;
    return this.items < this.maxItems &&
      this.mutations + (cost.mutations ?? 0) <= KV_BATCH.mutations &&
      this.checks + (cost.checks ?? 0) <= KV_BATCH.checks &&
      this.bytes + (cost.bytes ?? 0) <= KV_BATCH.bytes;
  }

  add(cost: BatchCost): void {
    this.items++;
    this.mutations += cost.mutations ?? 0;
    this.checks += cost.checks ?? 0;
    this.bytes += cost.bytes ?? 0;
  }
}
