/**
 * A strict parser of the Prometheus text exposition format (0.0.4): it throws
 * on anything a scraper could misread, so a test that parses /metrics proves
 * the output scrapes cleanly.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`bad value: ${line}`);
  return Number(text);
}

/** `{a="x",b="y\"z"}` -> labels; every escape checked. */
function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`bad labels: ${line}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${name}: ${line}`);
    if (name in labels) throw new Error(`duplicate label ${name}: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted: ${line}`);
    let value = "";
    let j = eq + 2;
    for (;; j++) {
      if (j >= text.length) throw new Error(`unterminated label value: ${line}`);
      const ch = text[j];
      if (ch === "\\") {
        const next = text[++j];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`bad escape \\${next}: ${line}`);
      } else if (ch === '"') break;
      else if (ch === "\n") throw new Error(`raw newline in label: ${line}`);
      else value += ch;
    }
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ",") throw new Error(`expected , between labels: ${line}`);
      i++;
    }
  }
  return labels;
}

function familyOf(sample: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  for (const suffix of ["_bucket", "_sum", "_count", ""]) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, sample.length - suffix.length));
    if (f && (suffix === "" || f.type === "histogram" || f.type === "summary")) return f;
  }
  return undefined;
}

function checkHistogram(f: MetricFamily): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...series.get(key) ?? [], s]);
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    const sum = samples.find((s) => s.name === `${f.name}_sum`);
    if (!count || !sum) throw new Error(`${f.name}: a series lacks _sum or _count`);
    let lastLe = -Infinity;
    let lastCount = 0;
    for (const b of buckets) {
      if (!("le" in b.labels)) throw new Error(`${f.name}_bucket without le`);
      const le = parseValue(b.labels.le, b.labels.le);
      if (le <= lastLe) throw new Error(`${f.name}: buckets not in increasing le`);
      if (b.value < lastCount) throw new Error(`${f.name}: buckets not cumulative`);
      lastLe = le;
      lastCount = b.value;
    }
    if (lastLe !== Infinity) throw new Error(`${f.name}: no le="+Inf" bucket`);
    if (lastCount !== count.value) throw new Error(`${f.name}: +Inf bucket != _count`);
  }
}

export function parsePrometheus(text: string): Map<string, MetricFamily> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  let current: MetricFamily | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    if (line === "") throw new Error("empty line in the exposition");
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`);
      let f = families.get(name);
      if (!f) {
        f = { name, type: "untyped", help: "", samples: [] };
        families.set(name, f);
      } else if (f !== current || f.samples.length) {
        throw new Error(`${kind} for ${name} after its samples or apart from its family`);
      }
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) throw new Error(`bad type: ${line}`);
        f.type = rest as MetricFamily["type"];
      } else f.help = rest;
      current = f;
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const [, name, , labelText, valueText] = m;
    const f = familyOf(name, families);
    if (!f) throw new Error(`sample ${name} before its # TYPE`);
    if (f !== current) throw new Error(`samples of ${f.name} are not together`);
    const sample = { name, labels: parseLabels(labelText ?? "", line), value: 0 };
    sample.value = parseValue(valueText, line);
    const key = `${name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    if (f.type === "counter" && !(sample.value >= 0)) throw new Error(`negative counter: ${line}`);
    f.samples.push(sample);
  }
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

/** The value of one series, or undefined. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
