/**
 * The fraud sweep over `ctx.sizes.sweepSize` transactions (1 M full, 20 k
 * quick), against raw `kv.list` rows/s over as many rows, with peak RSS.
 *
 * TODO(fraud): once the sweep job exists (services/fraud, e.g.
 * `runFraudSweep(deps)`):
 *   1. in `withTempKv`, `createBenchApp(kv)` and seed `sweepSize` transactions
 *      through the transactions repository in batches of ≤ 500 per commit
 *      (spread over a few thousand customers, a few fraud patterns);
 *   2. time the job function inside `withPeakRss` (support.ts);
 *   3. return `sweep_txn_per_s`, `sweep_ratio: perS / ctx.baselines.kv_list_rows_per_s`,
 *      `sweep_rss_mb: peakRssMb`, `sweep_size: sweepSize`.
 * `sweep_rss_mb` is the whole process's peak RSS: the kv.list baseline just
 * before it has listed as many rows, so if its heap lingers, run the sweep in
 * a child process (as load.ts runs autocannon) and report that process's peak.
 */
import type { FigureBench } from "./support.ts";

export const sweepBench: FigureBench = {
  name: "fraud sweep",
  figures: ["sweep_txn_per_s", "sweep_ratio", "sweep_rss_mb", "sweep_size"],
  run() {
    return Promise.resolve({ figures: {}, notes: "TODO: needs the fraud sweep job" });
  },
};
