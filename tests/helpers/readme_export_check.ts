/**
 * The README's offline check of a JSON Lines audit export (README, "A first session, in curl"),
 * taken from the README as printed and run with python3 on a file; and an export's text split
 * into its entries and its summary line.
 */
import type { AuditEntry } from "../../domain/audit_entry.ts";

const README = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
const SECTION = README.slice(
  README.indexOf("## A first session, in curl"),
  README.indexOf("\n## Commands"),
);

/** The README's Python chain check, as printed, run on `file`: its exit code and output. */
export async function runReadmeCheck(file: string): Promise<{ code: number; text: string }> {
  const script = /python3 - audit\.jsonl <<'PY'\n([\s\S]*?)\nPY\n/.exec(SECTION)![1];
  const out = new Deno.Command("python3", {
    args: ["-", file],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(script));
  await w.close();
  const r = await out.output();
  const d = new TextDecoder();
  return { code: r.code, text: d.decode(r.stdout) + d.decode(r.stderr) };
}

export interface ExportSummaryLine {
  export_summary: {
    complete: boolean;
    format: string;
    filters: Record<string, string>;
    seq_range: { from: number; to: number } | null;
    entries: number;
    head: { seq: number; hash: string };
    exported_at: string;
  };
}

/** A JSON Lines export as its entries and its last line, the summary (it must be there). */
export function splitExport(text: string): { entries: AuditEntry[]; summary: ExportSummaryLine } {
  const rows = text.trimEnd().split("\n").map((l) => JSON.parse(l));
  const summary = rows.pop() as ExportSummaryLine;
  if (!summary?.export_summary) throw new Error(`no summary line last:\n${text.slice(-500)}`);
  return { entries: rows as AuditEntry[], summary };
}

/** Entries, and a summary line if given, as a JSON Lines file's text. */
export function jsonLines(entries: AuditEntry[], summary?: ExportSummaryLine): string {
  return [...entries, ...(summary ? [summary] : [])].map((e) => JSON.stringify(e) + "\n").join("");
}
