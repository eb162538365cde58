/**
 * A small metrics registry rendered in the Prometheus text exposition format
 * (version 0.0.4). One registry per process, built in main.ts (or a test) and
 * handed in through deps: no module-level state. Recording is a map lookup and
 * an add, cheap enough for every request; gauges that need KV reads are filled
 * by collectors at scrape time only.
 */

export type Labels = Record<string, string>;

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
  /** forget every series (a collector refilling the gauge from scratch) */
  reset(): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

export interface Metrics {
  counter(name: string, help: string): Counter;
  gauge(name: string, help: string): Gauge;
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram;
  /** runs at every scrape, before rendering (reads KV for backlog gauges) */
  onCollect(collector: () => Promise<void>): void;
  /** collects, then renders every family */
  render(): Promise<string>;
}

/** Seconds: from a fast KV read to a slow Stripe call. */
export const LATENCY_BUCKETS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
] as const;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  buckets?: readonly number[];
  /** series key (rendered labels) -> value, or bucket counts + sum + count */
  series: Map<string, number | HistogramSeries>;
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** `{a="x",b="y"}` in a fixed (sorted) order, so one label set is one series. */
function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  names.sort();
  return names.map((n) => {
    if (!LABEL.test(n) || n.startsWith("__")) throw new Error(`invalid metric label name ${n}`);
    return `${n}="${escapeLabel(String(labels[n]))}"`;
  }).join(",");
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function withLabels(name: string, key: string, extra = ""): string {
  const all = [key, extra].filter(Boolean).join(",");
  return all ? `${name}{${all}}` : name;
}

function renderFamily(f: Family): string[] {
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
  for (const [key, value] of f.series) {
    if (typeof value === "number") {
      lines.push(`${withLabels(f.name, key)} ${formatNumber(value)}`);
      continue;
    }
    let cumulative = 0;
    f.buckets!.forEach((le, i) => {
      cumulative += value.counts[i];
      lines.push(`${withLabels(`${f.name}_bucket`, key, `le="${le}"`)} ${cumulative}`);
    });
    lines.push(`${withLabels(`${f.name}_bucket`, key, 'le="+Inf"')} ${value.count}`);
    lines.push(`${withLabels(`${f.name}_sum`, key)} ${formatNumber(value.sum)}`);
    lines.push(`${withLabels(`${f.name}_count`, key)} ${value.count}`);
  }
  return lines;
}

export function createMetrics(): Metrics {
  const families = new Map<string, Family>();
  const collectors: (() => Promise<void>)[] = [];

  function family(name: string, help: string, type: Family["type"], buckets?: readonly number[]) {
    const existing = families.get(name);
    if (existing) {
      if (existing.type !== type) throw new Error(`metric ${name} is already a ${existing.type}`);
      return existing;
    }
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    const f: Family = { name, help, type, buckets, series: new Map() };
    families.set(name, f);
    return f;
  }

  return {
    counter(name, help) {
      const f = family(name, help, "counter");
      return {
        inc(labels, by = 1) {
          const key = labelKey(labels);
          f.series.set(key, ((f.series.get(key) as number | undefined) ?? 0) + by);
        },
      };
    },
    gauge(name, help) {
      const f = family(name, help, "gauge");
      return {
        set: (labels, value) => void f.series.set(labelKey(labels), value),
        reset: () => f.series.clear(),
      };
    },
    histogram(name, help, buckets = LATENCY_BUCKETS) {
      const f = family(name, help, "histogram", buckets);
      return {
        observe(labels, value) {
          const key = labelKey(labels);
          let s = f.series.get(key) as HistogramSeries | undefined;
          if (!s) {
            s = { counts: new Array(buckets.length).fill(0), sum: 0, count: 0 };
            f.series.set(key, s);
          }
          const i = buckets.findIndex((le) => value <= le);
          if (i >= 0) s.counts[i]++;
          s.sum += value;
          s.count++;
        },
      };
    },
    onCollect(collector) {
      collectors.push(collector);
    },
    async render() {
      await Promise.all(collectors.map((c) => c()));
      const lines = [...families.values()].flatMap(renderFamily);
      // an empty exposition is empty: a lone newline is a blank line a strict parser refuses
      return lines.length ? lines.join("\n") + "\n" : "";
    },
  };
}
