/**
 * The webhook intake log: one record per Stripe event id (which is also the
 * dedup key), its payload, and the indexes the admin listing reads.
 *
 * Payloads: the verified event, re-serialized as compact JSON (not the exact
 * signed bytes; the signature was checked at intake and is not kept), is stored
 * in full as UTF-8 byte chunks of at most 60 000 bytes under
 * `["webhook_event_payloads", evt, n]`, never inline: a KV value is limited to
 * 64 KiB, the intake accepts bodies up to 512 KiB, and keeping the record small
 * keeps listings cheap.
 */
import { keys } from "./keys.ts";
import type { Job } from "./jobs.ts";

export const WEBHOOK_EVENT_STATUSES = [
  "received",
  "processed",
  "ignored",
  "failed",
  "dead",
] as const;
export type WebhookEventStatus = typeof WEBHOOK_EVENT_STATUSES[number];

export interface WebhookEventRecord {
  /** Stripe's `evt_…` id */
  id: string;
  /** `whe_…` ULID given at intake: orders the listings by arrival */
  log_id: string;
  type: string;
  /** Stripe's `created`, seconds since the epoch */
  created: number;
  livemode: boolean;
  api_version: string | null;
  /** ms since the epoch */
  received_at: number;
  status: WebhookEventStatus;
  /** processing attempts so far (inline, cron retries and replays) */
  attempts: number;
  last_error: string | null;
  /** what the applier said it did (or why it changed nothing) */
  detail: string | null;
  processed_at: number | null;
  object_id: string | null;
  object_type: string | null;
  /** the `webhook.process` job that retries it while it is not processed */
  job_id: string | null;
  /** ms; the sweep removes processed/ignored records after this */
  keep_until: number;
  payload_bytes: number;
  payload_chunks: number;
}

const CHUNK_BYTES = 60_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodePayload(json: string): Uint8Array[] {
  const bytes = encoder.encode(json);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) {
    chunks.push(bytes.slice(i, i + CHUNK_BYTES));
  }
  return chunks.length ? chunks : [new Uint8Array()];
}

function indexKeys(r: WebhookEventRecord): Deno.KvKey[] {
  return [
    keys.webhookEventsByStatus(r.status, r.log_id),
    keys.webhookEventsByStatusType(r.status, r.type, r.log_id),
  ];
}

/**
 * Adds the mutations that store a new event, guarded by `versionstamp: null`
 * on its id: a second delivery of the same event makes the commit fail.
 */
export function addNewEvent(
  op: Deno.AtomicOperation,
  record: WebhookEventRecord,
  chunks: Uint8Array[],
): void {
  op.check({ key: keys.webhookEvent(record.id), versionstamp: null })
    .set(keys.webhookEvent(record.id), record)
    .set(keys.webhookEventsByArrival(record.log_id), record.id)
    .set(keys.webhookEventsByType(record.type, record.log_id), record.id)
    .set(keys.webhookEventExpiry(record.keep_until, record.id), record.id);
  for (const key of indexKeys(record)) op.set(key, record.id);
  chunks.forEach((chunk, n) => op.set(keys.webhookEventPayloadChunk(record.id, n), chunk));
}

/** Rewrites a record (status, attempts, retention), moving its indexes along. */
export function addRecordUpdate(
  op: Deno.AtomicOperation,
  before: Deno.KvEntry<WebhookEventRecord>,
  after: WebhookEventRecord,
): void {
  op.check(before).set(keys.webhookEvent(after.id), after);
  if (before.value.status !== after.status) {
    for (const key of indexKeys(before.value)) op.delete(key);
    for (const key of indexKeys(after)) op.set(key, after.id);
  }
  if (before.value.keep_until !== after.keep_until) {
    op.delete(keys.webhookEventExpiry(before.value.keep_until, after.id));
    op.set(keys.webhookEventExpiry(after.keep_until, after.id), after.id);
  }
}

export function getEvent(kv: Deno.Kv, id: string): Promise<Deno.KvEntryMaybe<WebhookEventRecord>> {
  return kv.get<WebhookEventRecord>(keys.webhookEvent(id));
}

/** The stored event JSON, or null when the record (or a chunk) is gone. */
export async function readPayload(kv: Deno.Kv, record: WebhookEventRecord): Promise<string | null> {
  const parts: Uint8Array[] = [];
  const iter = kv.list<Uint8Array>({ prefix: keys.webhookEventPayloadPrefix(record.id) });
  for await (const entry of iter) parts.push(entry.value);
  if (parts.length !== record.payload_chunks) return null;
  const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    total.set(p, at);
    at += p.length;
  }
  return decoder.decode(total);
}

/** The selector of a listing by the given filters (newest first via `reverse`). */
export function eventListSelector(
  filters: { status?: WebhookEventStatus; type?: string },
): Deno.KvListSelector {
  if (filters.status && filters.type) {
    return { prefix: keys.webhookEventsByStatusTypePrefix(filters.status, filters.type) };
  }
  if (filters.status) return { prefix: keys.webhookEventsByStatusPrefix(filters.status) };
  if (filters.type) return { prefix: keys.webhookEventsByTypePrefix(filters.type) };
  return { prefix: keys.webhookEventsByArrivalPrefix() };
}

export const eventRecordKey = (id: string) => keys.webhookEvent(id);

/** Everything stored for one event. */
export function addEventDeletion(op: Deno.AtomicOperation, record: WebhookEventRecord): void {
  op.delete(keys.webhookEvent(record.id))
    .delete(keys.webhookEventsByArrival(record.log_id))
    .delete(keys.webhookEventsByType(record.type, record.log_id))
    .delete(keys.webhookEventExpiry(record.keep_until, record.id));
  for (const key of indexKeys(record)) op.delete(key);
  for (let n = 0; n < record.payload_chunks; n++) {
    op.delete(keys.webhookEventPayloadChunk(record.id, n));
  }
}

/** Expiry index entries due at or before `now`: `[keep_until, event id]`. */
export async function listExpired(
  kv: Deno.Kv,
  now: number,
  limit: number,
): Promise<{ keepUntil: number; id: string }[]> {
  const out: { keepUntil: number; id: string }[] = [];
  const iter = kv.list<string>({
    start: keys.webhookEventExpiryPrefix(),
    end: keys.webhookEventExpiryBefore(now + 1),
  }, { limit });
  for await (const e of iter) out.push({ keepUntil: e.key[1] as number, id: e.value });
  return out;
}

export function addExpiryDeletion(op: Deno.AtomicOperation, keepUntil: number, id: string): void {
  op.delete(keys.webhookEventExpiry(keepUntil, id));
}

// --- the job that carries an event until it is processed -------------------
// The intake creates the job already "leased" to the inline processor (due
// after the lease), so the fast path needs no claim commit; if the process
// dies, cron finds the job once the lease has run out. kv/jobs.ts keeps its
// claim/fail private, so the two moves the inline path needs live here.

/** Deletes the job if it is still the one the intake wrote (cron has not taken it). */
export function addJobDone(op: Deno.AtomicOperation, job: Job): void {
  op.delete(keys.job(job.due_at, job.id));
}

/**
 * After a failed inline attempt: the job moves to `now + delay` with one
 * attempt counted, unless cron already holds it (then the commit fails and
 * cron's own bookkeeping wins).
 */
export async function rescheduleInlineJob(
  kv: Deno.Kv,
  job: Job,
  jobVersionstamp: string,
  dueAt: number,
  error: string,
): Promise<boolean> {
  const next: Job = { ...job, attempts: job.attempts + 1, due_at: dueAt, last_error: error };
  const res = await kv.atomic()
    .check({ key: keys.job(job.due_at, job.id), versionstamp: jobVersionstamp })
    .delete(keys.job(job.due_at, job.id))
    .set(keys.job(next.due_at, next.id), next)
    .commit();
  return res.ok;
}
