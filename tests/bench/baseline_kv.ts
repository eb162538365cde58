/**
 * Raw Deno KV baselines: what the hardware and KV give with no service code
 * in the way. Each runs on its own temp-file KV.
 */
import {
  kibEach,
  processWrites,
  progress,
  runFor,
  sampleTransaction,
  withTempKv,
} from "./support.ts";

/**
 * Writers for the concurrent commit baseline, and deliveries in flight in the
 * webhook benchmark: both figures are capacities, so both are taken with
 * enough work in flight to keep the thing measured busy (single-key commits
 * reach it with a few writers; the intake, whose events each wait on a read
 * and a group commit, needs more).
 */
export const KV_COMMIT_CONCURRENCY = 32;
/** Writers on the one hot key: the audit benchmark uses as many appenders. */
export const HOT_KEY_WRITERS = 16;
/** Rows per seeding commit: under KV's 1000-mutation and 800 KiB limits. */
const SEED_BATCH = 500;

/**
 * One `set` per atomic commit on distinct keys, `concurrency` writers: commits/s,
 * and the KiB each commit wrote (`processWrites`).
 */
export function kvCommitsPerS(
  durationS: number,
  concurrency: number,
): Promise<{ perS: number; kibPerCommit: number }> {
  return withTempKv(async (kv) => {
    const value = sampleTransaction(0, Date.now());
    const before = await processWrites();
    const r = await runFor(durationS, concurrency, async (loop, i) => {
      const res = await kv.atomic().set(["bench_commits", loop, i], value).commit();
      return res.ok ? 1 : 0;
    });
    return { perS: r.perS, kibPerCommit: kibEach(before, await processWrites(), r.ops) };
  });
}

/** Writes `count` transaction-shaped rows under `prefix` in batches. */
export async function seedRows(kv: Deno.Kv, prefix: Deno.KvKey, count: number): Promise<void> {
  const created = Date.now();
  for (let start = 0; start < count; start += SEED_BATCH) {
    const op = kv.atomic();
    for (let i = start; i < Math.min(count, start + SEED_BATCH); i++) {
      op.set([...prefix, `txn_bench${String(i).padStart(8, "0")}`], sampleTransaction(i, created));
    }
    const res = await op.commit();
    if (!res.ok) throw new Error("seeding rows failed: an unchecked commit was refused");
    if (start > 0 && start % 200_000 === 0) progress(`  seeded ${start} rows`);
  }
}

/**
 * Rows/s for a full `kv.list` pass over `count` rows (batchSize 1000, KV's
 * maximum), repeated until `durationS` has passed (at least twice); the mean.
 */
export function kvListRowsPerS(count: number, durationS: number): Promise<number> {
  return withTempKv(async (kv) => {
    progress(`  seeding ${count} rows for kv.list`);
    await seedRows(kv, ["bench_transactions"], count);
    let rows = 0;
    let passes = 0;
    const started = performance.now();
    while (passes < 2 || performance.now() - started < durationS * 1000) {
      let seen = 0;
      for await (const _ of kv.list({ prefix: ["bench_transactions"] }, { batchSize: 1000 })) {
        seen++;
      }
      if (seen !== count) throw new Error(`kv.list saw ${seen} rows, expected ${count}`);
      rows += seen;
      passes++;
    }
    return rows / ((performance.now() - started) / 1000);
  });
}

/**
 * Optimistic concurrency on one key: `writers` loops each read the key,
 * `check` its versionstamp, set the next value and commit, retrying at once
 * on a lost race. Successful commits/s.
 */
export function hotKeyCommitsPerS(durationS: number, writers = HOT_KEY_WRITERS): Promise<number> {
  return withTempKv(async (kv) => {
    const key = ["bench_hot_key"];
    await kv.set(key, { seq: 0, hash: "0".repeat(64) });
    const r = await runFor(durationS, writers, async () => {
      const cur = await kv.get<{ seq: number; hash: string }>(key);
      const seq = (cur.value?.seq ?? 0) + 1;
      const res = await kv.atomic().check(cur).set(key, { seq, hash: cur.value?.hash }).commit();
      return res.ok ? 1 : 0;
    });
    const final = await kv.get<{ seq: number }>(key);
    if (final.value?.seq !== r.ops) {
      throw new Error(`hot key ends at seq ${final.value?.seq} after ${r.ops} commits`);
    }
    return r.perS;
  });
}
