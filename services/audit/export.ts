/**
 * The audit log as a download: JSON Lines (one entry a line, exactly as
 * stored, so hashes can be recomputed offline) or CSV for spreadsheets.
 * Streamed: rows are read from KV as the client reads the response.
 *
 * Self-describing (README, "A first session, in curl"): both end with a
 * summary, written only once every matching entry was, so a download cut
 * short lacks it: the filters applied, the seqs covered, how many entries
 * were written and the chain's head when the export began. An offline check
 * then knows a filtered export from an unfiltered one missing entries.
 */
import type { Deps } from "../deps.ts";
import { type AuditEntry, GENESIS_HEAD } from "../../domain/audit_entry.ts";
import { allMatching, type AuditFilters, exportScope } from "./query.ts";

export type ExportFormat = "jsonl" | "csv";

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  jsonl: "application/x-ndjson",
  csv: "text/csv; charset=utf-8",
};

export const CSV_COLUMNS = [
  "seq",
  "id",
  "at",
  "actor_type",
  "actor_id",
  "actor_role",
  "action",
  "target_type",
  "target_id",
  "result",
  "reason",
  "second_factor",
  "request_id",
  "ip",
  "user_agent",
  "idempotency_key",
  "stripe_request_id",
  "stripe_idempotency_key",
  "before",
  "after",
  "prev_hash",
  "hash",
] as const;

/**
 * RFC 4180 quoting; a cell a spreadsheet would run as a formula (`=`, `+`,
 * `-`, `@`, tab, CR first) gets a leading `'` (OWASP CSV injection advice):
 * reasons and notes are typed by people.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let s = typeof value === "string" ? value : JSON.stringify(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvRow(e: AuditEntry): string {
  const cells: unknown[] = [
    e.seq,
    e.id,
    e.at_iso,
    e.actor.type,
    e.actor.id,
    e.actor.role,
    e.action,
    e.target?.type,
    e.target?.id,
    e.result,
    e.reason,
    e.second_factor,
    e.request_id,
    e.ip,
    e.user_agent,
    e.idempotency_key,
    e.stripe_request_id,
    e.stripe_idempotency_key,
    e.before,
    e.after,
    e.prev_hash,
    e.hash,
  ];
  return cells.map(csvCell).join(",") + "\r\n";
}

/** Filters as an auditor reads them: times in ISO 8601. */
export function readableFilters(f: AuditFilters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined) continue;
    out[k] = k === "from" || k === "to" ? new Date(v as number).toISOString() : String(v);
  }
  return out;
}

/** The export's last line (JSON Lines: `{"export_summary": …}`; CSV: its last row). */
export interface ExportSummary {
  /** true: every matching entry was written before it */
  complete: true;
  format: ExportFormat;
  /** the filters applied (`{}`: none, the whole chain up to `head`) */
  filters: Record<string, string>;
  /** the seqs the export covered (`from`/`to` narrow them); null when none */
  seq_range: { from: number; to: number } | null;
  /** how many entries were written */
  entries: number;
  /** the chain's head when the export began: an unfiltered export runs from seq 1 to it */
  head: { seq: number; hash: string };
  exported_at: string;
}

/** The CSV's summary row: `id` says what it is, `after` holds the summary as JSON. */
export function csvSummaryRow(summary: ExportSummary): string {
  return CSV_COLUMNS.map((c) =>
    c === "id" ? "export_summary" : c === "after" ? csvCell(summary) : ""
  ).join(",") + "\r\n";
}

/** A stream of the matching entries, oldest first, in `format`, then the summary. */
export function exportAuditLog(
  deps: Deps,
  filters: AuditFilters,
  format: ExportFormat,
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  const exportedAt = new Date(deps.clock.now()).toISOString();
  let scope: Awaited<ReturnType<typeof exportScope>> | undefined;
  let rows: AsyncGenerator<AuditEntry> | undefined;
  let written = 0;
  const summary = (): ExportSummary => {
    const head = scope?.head ?? GENESIS_HEAD;
    return {
      complete: true,
      format,
      filters: readableFilters(filters),
      seq_range: scope?.range ? { from: scope.range.from, to: scope.range.to } : null,
      entries: written,
      head: { seq: head.seq, hash: head.hash },
      exported_at: exportedAt,
    };
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk = "";
      if (!rows) {
        if (format === "csv") chunk = CSV_COLUMNS.join(",") + "\r\n";
        scope = await exportScope(deps.kv, filters);
        rows = allMatching(deps.kv, filters, scope.range);
      }
      // ~64 rows a chunk: fewer, larger writes without holding much in memory.
      for (let i = 0; i < 64; i++) {
        const next = await rows.next();
        if (next.done) {
          chunk += format === "csv"
            ? csvSummaryRow(summary())
            : JSON.stringify({ export_summary: summary() }) + "\n";
          controller.enqueue(enc.encode(chunk));
          controller.close();
          return;
        }
        written++;
        chunk += format === "csv" ? csvRow(next.value) : JSON.stringify(next.value) + "\n";
      }
      controller.enqueue(enc.encode(chunk));
    },
    async cancel() {
      await rows?.return(undefined);
    },
  }, { highWaterMark: 0 });
}
