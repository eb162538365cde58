/**
 * `deno task bench [--quick]`: every figure of the README (Performance),
 * each right after the baseline it is divided by, all in this one run. Progress
 * goes to stderr; the table, then one JSON object as the very last line, to
 * stdout. A figure whose code has not landed yet is `null`.
 *
 * Adding a figure: write `tests/bench/<figure>.ts` exporting a `FigureBench`
 * (support.ts) and list it in `PLAN` below.
 * `--only=refunds,audit` runs just those figures and their baselines (the
 * others are null).
 */
import { auditBench } from "./audit.ts";
import {
  HOT_KEY_WRITERS,
  hotKeyCommitsPerS,
  KV_COMMIT_CONCURRENCY,
  kvCommitsPerS,
  kvListRowsPerS,
} from "./baseline_kv.ts";
import { budgetBench } from "./budget.ts";
import { listBench } from "./list.ts";
import { refundsBench } from "./refunds.ts";
import { LOAD_TOOL } from "./load.ts";
import { type BenchRecord, finalJson, printTable } from "./report.ts";
import {
  type Baselines,
  type BenchSizes,
  benchSizes,
  type FigureBench,
  type Figures,
  progress,
} from "./support.ts";
import { sweepBench } from "./sweep.ts";
import { webhookBench } from "./webhook.ts";

/** What one baseline step measures; it fills its fields of `Baselines`. */
interface BaselineStep {
  baseline: string;
  run(sizes: BenchSizes): Promise<Partial<Baselines>>;
}

const kvCommitBaseline: BaselineStep = {
  baseline: `KV single-key commits (1 and ${KV_COMMIT_CONCURRENCY} writers)`,
  run: async (sizes) => {
    const sequential = await kvCommitsPerS(sizes.durationS, 1);
    const concurrent = await kvCommitsPerS(sizes.durationS, KV_COMMIT_CONCURRENCY);
    return {
      kv_commits_per_s_sequential: sequential.perS,
      kv_commits_per_s: concurrent.perS,
      kv_commit_kib: concurrent.kibPerCommit,
    };
  },
};
const kvListBaseline: BaselineStep = {
  baseline: "kv.list rows/s over the sweep size",
  run: async (sizes) => ({
    kv_list_rows_per_s: await kvListRowsPerS(sizes.sweepSize, sizes.durationS),
  }),
};
const hotKeyBaseline: BaselineStep = {
  baseline: `hot-key OCC commits, ${HOT_KEY_WRITERS} writers`,
  run: async (sizes) => ({ hot_key_commits_per_s: await hotKeyCommitsPerS(sizes.durationS) }),
};

/**
 * Each baseline runs right before the figure taken against it, so a machine
 * whose load drifts during the run (shared CI, other jobs) skews both alike.
 * Adding a figure: write `tests/bench/<figure>.ts` exporting a `FigureBench`
 * and list it here, after the baseline it divides by.
 */
const PLAN: Array<BaselineStep | FigureBench> = [
  // no baseline: absolute targets
  refundsBench,
  budgetBench,
  // its baseline (a bare Hono route listing the same records) runs inside, in turns with it
  listBench,
  kvCommitBaseline,
  webhookBench,
  kvListBaseline,
  sweepBench,
  hotKeyBaseline,
  auditBench,
];

async function main(): Promise<void> {
  const quick = Deno.args.includes("--quick");
  const sizes = benchSizes(quick);
  const started = performance.now();
  progress(`${quick ? "quick" : "full"} run: ${JSON.stringify(sizes)}`);

  // NaN until measured: a ratio over a missing baseline comes out null, not a number.
  const baselines: Baselines = {
    kv_commits_per_s: NaN,
    kv_commits_per_s_sequential: NaN,
    kv_commit_kib: NaN,
    kv_list_rows_per_s: NaN,
    hot_key_commits_per_s: NaN,
  };
  const figures: Figures = {};
  const extra: Record<string, number | null> = {};
  const failures: string[] = [];
  const records: BenchRecord[] = [];
  for (const step of selectSteps(PLAN, onlyArg())) {
    const name = "baseline" in step ? `baseline: ${step.baseline}` : step.name;
    progress(name);
    const t0 = performance.now();
    try {
      if ("baseline" in step) {
        Object.assign(baselines, await step.run(sizes));
        continue;
      }
      const r = await step.run({ sizes, baselines });
      Object.assign(figures, r.figures);
      Object.assign(extra, r.extra ?? {});
      records.push({ name, notes: r.notes ?? "", failed: false, seconds: secs(t0) });
    } catch (error) {
      // Loud, but the other figures still get measured and the JSON still ends the run.
      const message = error instanceof Error ? error.stack ?? error.message : String(error);
      console.error(`[bench] FAILED ${name}: ${message}`);
      failures.push(name);
      if (!("baseline" in step)) { for (const f of step.figures) figures[f] = null; }
      records.push({ name, notes: firstLine(message), failed: true, seconds: secs(t0) });
    }
  }

  progress(`done in ${secs(started).toFixed(1)} s`);
  const json = finalJson(quick, baselines, figures, extra, failures, LOAD_TOOL);
  printTable(json, records);
  console.log(JSON.stringify(json));
  if (failures.length > 0) Deno.exitCode = 1;
}

/** `--only=webhook,audit`: just those figures (name substrings) and the baselines they need. */
function onlyArg(): string[] | null {
  const arg = Deno.args.find((a) => a.startsWith("--only="));
  return arg ? arg.slice("--only=".length).split(",").filter(Boolean) : null;
}

function selectSteps(
  plan: Array<BaselineStep | FigureBench>,
  only: string[] | null,
): Array<BaselineStep | FigureBench> {
  if (!only) return plan;
  const wanted = (s: BaselineStep | FigureBench) =>
    !("baseline" in s) && only.some((o) => s.name.includes(o));
  // a baseline serves the figures listed after it, up to the next baseline
  return plan.filter((step, i) => {
    if (!("baseline" in step)) return wanted(step);
    const next = plan.slice(i + 1);
    const end = next.findIndex((s) => "baseline" in s);
    return (end === -1 ? next : next.slice(0, end)).some(wanted);
  });
}

function secs(since: number): number {
  return (performance.now() - since) / 1000;
}

function firstLine(s: string): string {
  return s.split("\n")[0];
}

if (import.meta.main) await main();
