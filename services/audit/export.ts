/**
 * The audit log as a download: JSON Lines (one entry a line, exactly as
 * stored, so hashes can be recomputed offline) or CSV for spreadsheets.
 * Streamed: rows are read from KV as the client reads the response.
 */
import type { Deps } from "../deps.ts";
import type { AuditEntry } from "../../domain/audit_entry.ts";
import { allMatching, type AuditFilters } from "./query.ts";

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

/** A stream of the matching entries, oldest first, in `format`. */
export function exportAuditLog(
  deps: Deps,
  filters: AuditFilters,
  format: ExportFormat,
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  const rows = allMatching(deps.kv, filters);
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk = "";
      if (!started && format === "csv") chunk = CSV_COLUMNS.join(",") + "\r\n";
      started = true;
      // ~64 rows a chunk: fewer, larger writes without holding much in memory.
      for (let i = 0; i < 64; i++) {
        const next = await rows.next();
        if (next.done) {
          if (chunk) controller.enqueue(enc.encode(chunk));
          controller.close();
          return;
        }
        chunk += format === "csv" ? csvRow(next.value) : JSON.stringify(next.value) + "\n";
      }
      controller.enqueue(enc.encode(chunk));
    },
    async cancel() {
      await rows.return(undefined);
    },
  }, { highWaterMark: 0 });
}
