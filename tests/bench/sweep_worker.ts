/**
 * Child process of the sweep benchmark: opens the seeded KV file, builds the
 * app as tests do, runs one fraud sweep (the job function the cron calls) and
 * prints `{scanned, seconds, peak_rss_mb, alerts_raised, subjects}` as JSON.
 * A process of its own, so its peak RSS is the sweep's alone.
 */
import { createBenchApp } from "./bench_app.ts";
import { withPeakRss } from "./support.ts";
import { runFraudSweep } from "../../services/fraud/mod.ts";

const path = Deno.args[0];
const kv = await Deno.openKv(path);
const { services } = createBenchApp(kv);
const started = performance.now();
const { value: run, peakRssMb } = await withPeakRss(() => runFraudSweep(services), 20);
const seconds = (performance.now() - started) / 1000;
kv.close();
console.log(JSON.stringify({
  scanned: run.scanned,
  subjects: run.subjects,
  alerts_raised: run.alerts_raised,
  status: run.status,
  seconds,
  peak_rss_mb: peakRssMb,
}));
