/**
 * The human table (stdout) and the one-line JSON of figures that ends the
 * run. Every figure the bench names is in the JSON, `null` when it
 * could not be measured yet.
 */
import { type Baselines, FIGURE_NAMES, type FigureName, type Figures, round } from "./support.ts";

interface Target {
  text: string;
  met(value: number, all: Record<string, number | null>): boolean | null;
}

const TARGETS: Partial<Record<FigureName, Target>> = {
  webhook_ratio: { text: ">= 0.6", met: (v) => v >= 0.6 },
  webhook_ratio_few_in_flight: { text: ">= 0.5", met: (v) => v >= 0.5 },
  sweep_ratio: { text: ">= 0.5", met: (v) => v >= 0.5 },
  sweep_rss_mb: { text: "<= 300", met: (v) => v <= 300 },
  sweep_size: { text: "1000000 (full run)", met: (v) => v >= 1_000_000 },
  list_ratio: { text: ">= 0.6", met: (v) => v >= 0.6 },
  list_p99_ms: {
    text: "<= 2 x list_base_p99_ms",
    met: (v, all) => all.list_base_p99_ms == null ? null : v <= 2 * all.list_base_p99_ms,
  },
  refunds_per_s: { text: ">= 200", met: (v) => v >= 200 },
  refund_overhead_ms: { text: "<= 5 (median)", met: (v) => v <= 5 },
  budget_max_window: {
    text: "<= R + burst",
    met: (v, all) =>
      all.budget_rate == null || all.budget_burst == null
        ? null
        : v <= all.budget_rate + all.budget_burst,
  },
  budget_mean_ratio: { text: ">= 0.9", met: (v) => v >= 0.9 },
  audit_ratio: { text: ">= 0.8", met: (v) => v >= 0.8 },
};

export interface BenchRecord {
  name: string;
  notes: string;
  failed: boolean;
  seconds: number;
}

export function finalJson(
  quick: boolean,
  baselines: Baselines,
  figures: Figures,
  extra: Record<string, number | null>,
  failures: string[],
  loadTool: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of FIGURE_NAMES) out[name] = roundOrNull(figures[name]);
  for (const [k, v] of Object.entries(baselines)) out[`baseline_${k}`] = roundOrNull(v);
  for (const [k, v] of Object.entries(extra)) out[k] = roundOrNull(v);
  out.quick = quick;
  out.load_tool = loadTool;
  out.failures = failures;
  return out;
}

export function printTable(
  json: Record<string, unknown>,
  benches: BenchRecord[],
): void {
  const all = json as Record<string, number | null>;
  const rows: string[][] = [["figure", "value", "target", "met"]];
  for (const name of FIGURE_NAMES) {
    const value = all[name];
    const target = TARGETS[name];
    const met = value == null || !target ? null : target.met(value, all);
    rows.push([name, value == null ? "null" : String(value), target?.text ?? "", verdict(met)]);
  }
  rows.push(["", "", "", ""]);
  for (const [k, v] of Object.entries(json)) {
    if (k.startsWith("baseline_")) rows.push([k, String(v), "(same run)", ""]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd();
  console.log(line(rows[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows.slice(1)) console.log(line(r));
  console.log("");
  for (const b of benches) {
    const status = b.failed ? "FAILED" : "ok";
    console.log(`${b.name} [${status}, ${round(b.seconds, 1)} s]: ${b.notes}`);
  }
}

function verdict(met: boolean | null): string {
  return met === null ? "" : met ? "yes" : "NO";
}

function roundOrNull(v: number | null | undefined): number | null {
  return v == null || !Number.isFinite(v) ? null : round(v, 2);
}
