/**
 * The fraud sweep over `ctx.sizes.sweepSize` payments (1 M full over 100,000
 * customers, 100 k quick over 10,000), seeded straight into a KV file
 * (sweep_data.ts), swept once by a child process (sweep_worker.ts) whose peak
 * RSS is reported; against raw `kv.list` rows/s over as many rows, measured
 * just before. `sweep_txn_per_s` counts the payments the sweep evaluated.
 *
 * The quick size is 100 k, not 20 k: the ratio is a throughput figure, and a
 * 20 k sweep lasts a few tenths of a second, in which costs paid once per run
 * weigh as much as the rows: the run and lease records, the first page's
 * latency, the rules' code still running unoptimized (the baseline lists its
 * rows for 2 s, warm after the first pass), and the last batch's alerts and
 * cursor committed with nothing left to overlap them. At 100 k the sweep
 * lasts about a second and the quick sweep figure 5–25 s in all (seeding included).
 */
import { type BenchContext, type FigureBench, progress, round, withTempKv } from "./support.ts";
import { seedSweepData } from "./sweep_data.ts";

const WORKER = new URL("./sweep_worker.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

export const sweepBench: FigureBench = {
  name: "fraud sweep",
  figures: ["sweep_txn_per_s", "sweep_ratio", "sweep_rss_mb", "sweep_size"],
  async run(ctx: BenchContext) {
    return await withTempKv(async (kv, path) => {
      const size = ctx.sizes.sweepSize;
      const t0 = performance.now();
      const data = await seedSweepData(
        kv,
        size,
        Date.now(),
        (n) => progress(`  seeded ${n} payments`),
      );
      progress(
        `  seeded ${data.transactions} payments of ${data.customers} customers ` +
          `(${data.injectedCustomers} injected) in ${round((performance.now() - t0) / 1000, 1)} s`,
      );
      kv.close();
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", `--config=${CONFIG.pathname}`, "-A", WORKER.pathname, path],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(`sweep worker failed: ${new TextDecoder().decode(out.stderr)}`);
      }
      const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      if (r.status !== "finished" || r.scanned !== data.transactions) {
        throw new Error(`the sweep evaluated ${r.scanned} of ${data.transactions} payments`);
      }
      const perS = r.scanned / r.seconds;
      progress(
        `  swept ${r.scanned} payments of ${r.subjects} subjects in ${round(r.seconds, 1)} s ` +
          `(${r.alerts_raised} alerts), peak RSS ${round(r.peak_rss_mb, 1)} MB`,
      );
      return {
        figures: {
          sweep_txn_per_s: perS,
          sweep_ratio: perS / ctx.baselines.kv_list_rows_per_s,
          sweep_rss_mb: r.peak_rss_mb,
          sweep_size: r.scanned,
        },
        extra: { sweep_alerts_raised: r.alerts_raised, sweep_subjects: r.subjects },
        notes:
          `${data.customers} customers, ${data.injectedCustomers} injected; ${r.alerts_raised} alerts`,
      };
    });
  },
};
