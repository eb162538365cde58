/**
 * The webhook intake log: one record per Stripe event id (which is also the
 * dedup key), its payload (kv/webhook_payloads.ts: deflated, in the record or
 * in chunks), and the indexes the admin listing reads (the listing itself:
 * kv/webhook_event_listing.ts).
 */
import { keys } from "./keys.ts";
import type { Job } from "./jobs.ts";
import { idLowerBound } from "../core/ids.ts";
import { getManyChunked } from "./atomic.ts";
import type { WebhookEventClaim, WebhookEventRecord } from "../domain/webhook_event.ts";

export { WEBHOOK_EVENT_STATUSES } from "../domain/webhook_event.ts";
export type {
  ReplayMark,
  WebhookEventClaim,
  WebhookEventRecord,
  WebhookEventStatus,
} from "../domain/webhook_event.ts";
export {
  encodePayload,
  INLINE_PAYLOAD_BYTES,
  payloadFields,
  readPayload,
  type StoredPayload,
} from "./webhook_payloads.ts";
import type { StoredPayload } from "./webhook_payloads.ts";
export { type EventFilters, listEventRecords } from "./webhook_event_listing.ts";

/**
 * The status indexes hold every status but `processed`: nearly every event
 * ends there, so it is listed by walking the arrival (or type) index instead
 * (`listEventRecords`), which spares two KV writes on every event. The
 * statuses an operator looks for (received, failed, dead, ignored) stay
 * indexed on their own.
 */
function statusKeys(r: WebhookEventRecord): Deno.KvKey[] {
  return r.status === "processed" ? [] : statusKeysAlways(r);
}

/** Removal covers `processed` too: records stored before it left the index have entries. */
function statusKeysAlways(r: WebhookEventRecord): Deno.KvKey[] {
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
  stored: StoredPayload,
): void {
  op.check({ key: keys.webhookEvent(record.id), versionstamp: null })
    .set(keys.webhookEvent(record.id), record)
    .set(keys.webhookEventsByArrival(record.log_id), record.id)
    .set(keys.webhookEventsByType(record.type, record.log_id), record.id);
  for (const key of statusKeys(record)) op.set(key, record.id);
  stored.chunks.forEach((chunk, n) => op.set(keys.webhookEventPayloadChunk(record.id, n), chunk));
}

/** Rewrites a record (status, attempts, retention), moving its status indexes along. */
export function addRecordUpdate(
  op: Deno.AtomicOperation,
  before: Deno.KvEntry<WebhookEventRecord>,
  after: WebhookEventRecord,
): void {
  op.check(before).set(keys.webhookEvent(after.id), after);
  if (before.value.status !== after.status) {
    for (const key of statusKeysAlways(before.value)) op.delete(key);
    for (const key of statusKeys(after)) op.set(key, after.id);
  }
}

export function getEvent(kv: Deno.Kv, id: string): Promise<Deno.KvEntryMaybe<WebhookEventRecord>> {
  return kv.get<WebhookEventRecord>(keys.webhookEvent(id));
}

export const eventRecordKey = (id: string) => keys.webhookEvent(id);

export function getClaim(kv: Deno.Kv, id: string): Promise<Deno.KvEntryMaybe<WebhookEventClaim>> {
  return kv.get<WebhookEventClaim>(keys.webhookEventClaim(id));
}

/** Takes the claim `claim` over `held` (none, or one whose time ran out); lapses by itself. */
export function addClaim(
  op: Deno.AtomicOperation,
  held: Deno.KvEntryMaybe<WebhookEventClaim>,
  eventId: string,
  claim: WebhookEventClaim,
  ms: number,
): void {
  op.check(held).set(keys.webhookEventClaim(eventId), claim, { expireIn: ms });
}

/** Lets `claim` go in `op` if it is still the one held (a claim whose time ran out may not be). */
export async function addClaimRelease(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  eventId: string,
  claim: WebhookEventClaim,
): Promise<void> {
  const held = await getClaim(kv, eventId);
  if (held.value?.id === claim.id) op.check(held).delete(keys.webhookEventClaim(eventId));
}

/** Everything stored for one event. */
export function addEventDeletion(op: Deno.AtomicOperation, record: WebhookEventRecord): void {
  op.delete(keys.webhookEvent(record.id))
    .delete(keys.webhookEventsByArrival(record.log_id))
    .delete(keys.webhookEventsByType(record.type, record.log_id));
  for (const key of statusKeysAlways(record)) op.delete(key);
  for (let n = 0; n < record.payload_chunks; n++) {
    op.delete(keys.webhookEventPayloadChunk(record.id, n));
  }
}

/**
 * Up to `limit` records that arrived before `arrivedBefore` (ms), oldest
 * first, after the arrival `after` (a log id) when given: the retention
 * sweep's candidates, from the arrival index (`keep_until` is set from
 * arrival, and only ever moved later). An entry whose value is null is an
 * index row whose record is gone.
 */
export async function listArrivedBefore(
  kv: Deno.Kv,
  arrivedBefore: number,
  page: { after?: string; limit: number },
): Promise<{ logId: string; entry: Deno.KvEntryMaybe<WebhookEventRecord> }[]> {
  const rows: { logId: string; id: string }[] = [];
  const iter = kv.list<string>({
    start: page.after === undefined
      ? keys.webhookEventsByArrivalPrefix()
      : [...keys.webhookEventsByArrival(page.after), 0], // just past `after`
    end: keys.webhookEventsByArrival(idLowerBound("whe", arrivedBefore)),
  }, { limit: page.limit });
  for await (const e of iter) rows.push({ logId: e.key[1] as string, id: e.value });
  const entries = await getManyChunked<WebhookEventRecord>(
    kv,
    rows.map((r) => keys.webhookEvent(r.id)),
  );
  return rows.map((r, i) => ({ logId: r.logId, entry: entries[i] }));
}

export function addArrivalDeletion(op: Deno.AtomicOperation, logId: string): void {
  op.delete(keys.webhookEventsByArrival(logId));
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

/** Counts one more event ignored for `reason` (in the commit that stores it, once per event). */
export function addIgnoredCount(op: Deno.AtomicOperation, reason: string): void {
  op.sum(keys.webhookIgnoredCount(reason), 1n);
}

/** How many events were acknowledged but ignored, per reason. */
export async function getIgnoredCounts(kv: Deno.Kv): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for await (const e of kv.list<Deno.KvU64>({ prefix: keys.webhookIgnoredCountsPrefix() })) {
    out[String(e.key[e.key.length - 1])] = Number(e.value.value);
  }
  return out;
}
