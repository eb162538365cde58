/**
 * What every benchmark shares: run sizes (full or `--quick`), a temp-file KV
 * that is always closed and removed, progress on stderr, timing helpers.
 * Benchmarks measure on a file-backed KV because `:memory:` would flatter
 * every figure (no fsync, no WAL).
 */

/** Every figure the bench reports (README, Performance), plus `sweep_size`. */
export const FIGURE_NAMES = [
  "webhook_events_per_s",
  "webhook_ratio",
  "webhook_ratio_few_in_flight",
  "sweep_txn_per_s",
  "sweep_ratio",
  "sweep_rss_mb",
  "sweep_size",
  "list_req_per_s",
  "list_ratio",
  "list_p99_ms",
  "list_base_p99_ms",
  "refunds_per_s",
  "refund_overhead_ms",
  "budget_rate",
  "budget_burst",
  "budget_max_window",
  "budget_mean_ratio",
  "audit_appends_per_s",
  "audit_ratio",
] as const;
export type FigureName = typeof FIGURE_NAMES[number];
export type Figures = Partial<Record<FigureName, number | null>>;

export interface BenchSizes {
  quick: boolean;
  /** seconds each throughput measurement runs */
  durationS: number;
  /** rows listed by the raw `kv.list` baseline and transactions swept (quick: sweep.ts says why 100 k) */
  sweepSize: number;
  /** concurrent HTTP connections for the endpoint benchmarks */
  connections: number;
}

export function benchSizes(quick: boolean): BenchSizes {
  return quick
    ? { quick, durationS: 2, sweepSize: 100_000, connections: 50 }
    : { quick, durationS: 10, sweepSize: 1_000_000, connections: 50 };
}

/** The baselines every ratio is taken against, measured in the same run. */
export interface Baselines {
  /** distinct keys, one `set` per atomic commit, `KV_COMMIT_CONCURRENCY` writers */
  kv_commits_per_s: number;
  /** the same, one writer awaiting each commit */
  kv_commits_per_s_sequential: number;
  /** KiB the 32-writer run wrote to KV's file per commit (Linux only, else NaN) */
  kv_commit_kib: number;
  kv_list_rows_per_s: number;
  /** 16 writers doing read, check, set, retry on one key */
  hot_key_commits_per_s: number;
}

export interface BenchContext {
  sizes: BenchSizes;
  baselines: Baselines;
}

/** One figure module: `tests/bench/<figure>.ts` exports a function of this shape. */
export interface FigureBench {
  /** short name for the table and progress lines */
  name: string;
  /** the figures it fills; left `null` when `run` returns without them */
  figures: FigureName[];
  run(ctx: BenchContext): Promise<FigureResult>;
}

export interface FigureResult {
  figures: Figures;
  /** raw figures behind the ratios (e.g. `budget_burst`), added to the JSON as they are */
  extra?: Record<string, number | null>;
  /** tool, settings or why a figure is missing, for the table */
  notes?: string;
}

export function progress(message: string): void {
  console.error(`[bench] ${message}`);
}

/** Opens a KV on a fresh temp file, hands it to `fn`, then closes it and removes the file. */
export async function withTempKv<T>(fn: (kv: Deno.Kv, path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "payments_bench_" });
  const path = `${dir}/kv.sqlite3`;
  const kv = await Deno.openKv(path);
  try {
    return await fn(kv, path);
  } finally {
    try {
      kv.close();
    } catch {
      // already closed by the benchmark
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs `worker` in `concurrency` parallel loops until `durationS` elapses and
 * returns how many iterations completed per second. `worker` returns the number
 * of operations it completed (0 for a lost race that will be retried).
 */
export async function runFor(
  durationS: number,
  concurrency: number,
  worker: (loop: number, i: number) => Promise<number>,
): Promise<{ ops: number; seconds: number; perS: number }> {
  const started = performance.now();
  const deadline = started + durationS * 1000;
  let ops = 0;
  const loops = Array.from({ length: concurrency }, async (_, loop) => {
    for (let i = 0; performance.now() < deadline; i++) {
      // not `ops += await …`: that reads `ops` before the await and loses the other loops' counts
      const done = await worker(loop, i);
      ops += done;
    }
  });
  await Promise.all(loops);
  const seconds = (performance.now() - started) / 1000;
  return { ops, seconds, perS: ops / seconds };
}

/**
 * What this process has written so far, all threads (KV's writer among them):
 * bytes and write calls, from `/proc/<pid>/io`; null where there is none (not
 * Linux). Deno lets only `--allow-all` read that file itself, so `cat` reads
 * it (`--allow-run`, which the bench has). The difference over a run tells
 * what KV's file cost it: every page a commit changes, in the write-ahead log
 * and again at checkpoint.
 */
export async function processWrites(): Promise<{ bytes: number; calls: number } | null> {
  let text: string;
  try {
    const out = await new Deno.Command("cat", { args: [`/proc/${Deno.pid}/io`], stderr: "null" })
      .output();
    if (!out.success) return null;
    text = new TextDecoder().decode(out.stdout);
  } catch {
    return null;
  }
  const fields = new Map(
    text.trim().split("\n").map((line) => {
      const [name, value] = line.split(": ");
      return [name, Number(value)] as const;
    }),
  );
  return { bytes: fields.get("wchar") ?? 0, calls: fields.get("syscw") ?? 0 };
}

/**
 * CPU seconds this process has used so far: all its threads (KV's writer and
 * reader, V8's helpers) and its main thread alone, where the JavaScript runs;
 * from `/proc/<pid>/stat` and `/proc/<pid>/task/<pid>/stat`, read by `cat` as
 * `processWrites` reads its file. Null where there are none (not Linux).
 */
export async function processCpu(): Promise<{ all: number; main: number } | null> {
  const files = [`/proc/${Deno.pid}/stat`, `/proc/${Deno.pid}/task/${Deno.pid}/stat`];
  let lines: string[];
  try {
    const out = await new Deno.Command("cat", { args: files, stderr: "null" }).output();
    if (!out.success) return null;
    lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  } catch {
    return null;
  }
  if (lines.length !== 2) return null;
  // utime and stime are the 14th and 15th fields, in USER_HZ ticks (100 a second on Linux);
  // the command name before them is in parentheses and may hold spaces.
  const seconds = (line: string) => {
    const f = line.slice(line.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  return { all: seconds(lines[0]), main: seconds(lines[1]) };
}

/** CPU milliseconds per unit of work between two `processCpu()` readings; NaN when unknown. */
export function cpuMsEach(
  before: { all: number; main: number } | null,
  after: { all: number; main: number } | null,
  units: number,
): { all: number; main: number } {
  if (!before || !after || units <= 0) return { all: NaN, main: NaN };
  return {
    all: (after.all - before.all) * 1000 / units,
    main: (after.main - before.main) * 1000 / units,
  };
}

/** KiB written per unit of work between two `processWrites()` readings; NaN when unknown. */
export function kibEach(
  before: { bytes: number } | null,
  after: { bytes: number } | null,
  units: number,
): number {
  return before && after && units > 0 ? (after.bytes - before.bytes) / units / 1024 : NaN;
}

/** Sorted-sample percentile (nearest rank). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Samples RSS every `everyMs` while `fn` runs; returns its result and the peak in MiB. */
export async function withPeakRss<T>(
  fn: () => Promise<T>,
  everyMs = 50,
): Promise<{ value: T; peakRssMb: number }> {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, everyMs);
  try {
    const value = await fn();
    peak = Math.max(peak, Deno.memoryUsage().rss);
    return { value, peakRssMb: peak / (1024 * 1024) };
  } finally {
    clearInterval(timer);
  }
}

/** A transaction-shaped value (~300 bytes), so list baselines read rows the size the sweep reads. */
export function sampleTransaction(i: number, createdMs: number): Record<string, unknown> {
  const n = String(i).padStart(8, "0");
  return {
    id: `txn_bench${n}`,
    customer: `cus_bench${String(i % 5000).padStart(6, "0")}`,
    amount: 1000 + (i % 97) * 137,
    currency: "usd",
    status: i % 11 === 0 ? "failed" : "succeeded",
    amount_refunded: 0,
    amount_reserved: 0,
    amount_disputed: 0,
    stripe_payment_intent: `pi_bench${n}`,
    stripe_charge: `ch_bench${n}`,
    card_fingerprint: `fp_${(i * 7919) % 100_000}`,
    country: i % 13 === 0 ? "BR" : "US",
    created: createdMs,
  };
}
