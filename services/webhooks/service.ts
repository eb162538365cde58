/**
 * The webhook intake and its log.
 *
 * `receive` verifies, then, when the applier can (`appliesAtIntake`), applies
 * plain ingestion (most of Stripe's traffic) in the very commit that stores
 * the event as processed: one group-committed write per event, no job, and
 * Stripe's answer still waits on KV only. Everything else (a change that
 * needs the audit chain or a read-back from Stripe, an applier error, an
 * applier that cannot) takes the general path: the event AND a
 * `webhook.process` job are stored in one commit, the answer goes out, and
 * processing follows in the background (services/webhooks/processing.ts);
 * `drain()` waits for it. Either way the event id is deduplicated by a
 * `versionstamp: null` check in the commit that stores it.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { type AuditInput, type AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { type CommitHook } from "../ingest/mod.ts";
import { AppError, notFound } from "../../core/errors.ts";
import { createSignatureVerifier } from "./verify.ts";
import {
  createEventProcessing,
  type EventApplier,
  INLINE_LEASE_MS,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_PROCESS_JOB,
  WEBHOOK_RETENTION_MS,
} from "./processing.ts";
import { addJob, type Job, type JobHandler } from "../../kv/jobs.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import {
  addIgnoredCount,
  addNewEvent,
  addRecordUpdate,
  encodePayload,
  getEvent,
  getIgnoredCounts,
  listEventRecords,
  payloadFields,
  readPayload,
  type StoredPayload,
  type WebhookEventRecord,
  type WebhookEventStatus,
} from "../../kv/webhook_events.ts";
import { toView, type WebhookEventView } from "./view.ts";
import { closeOpsAlert } from "../ops_alerts.ts";
import { openAlertsForWebhookEvent } from "../../kv/ops_alerts.ts";
import { CommitBatcher } from "./batch.ts";
import { sweepExpiredEvents } from "./retention.ts";

export type { WebhookEventView } from "./view.ts";

/** Stripe's events are a few KiB; anything this large is not from Stripe. */
export const MAX_WEBHOOK_BODY_BYTES = 512 * 1024;

export interface IntakeResult {
  received: true;
  event_id: string;
  duplicate?: true;
}

export interface ReplayResult {
  event: WebhookEventView;
  replay: { result: "ok" | "failed"; detail: string | null; error: string | null };
}

export interface WebhookListQuery {
  status?: WebhookEventStatus;
  type?: string;
  limit: number;
  cursor?: string;
}

interface Svc {
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
  applier: EventApplier;
}

export function createWebhookService(deps: Deps, svc: Svc) {
  const { kv, clock, log } = deps;
  const verifier = createSignatureVerifier(deps.config.stripe.webhookSecrets, clock);
  const inflight = new Set<Promise<void>>();
  const intakeBatch = new CommitBatcher(kv);
  const processing = createEventProcessing(deps, svc);
  const { attempt, nextRecord, loadEvent } = processing;

  async function receive(rawBody: string, signature: string | undefined): Promise<IntakeResult> {
    // UTF-8 needs at most 3 bytes per UTF-16 unit: encode only when it could be over.
    const mayExceed = rawBody.length * 3 > MAX_WEBHOOK_BODY_BYTES;
    if (mayExceed && new TextEncoder().encode(rawBody).length > MAX_WEBHOOK_BODY_BYTES) {
      throw new AppError("payload_too_large", "webhook bodies are limited to 512 KiB");
    }
    const event = await verifier.verify(rawBody, signature);
    const now = clock.now();
    const object = event.data.object as { id?: unknown; object?: unknown };
    const stored = encodePayload(JSON.stringify(event));
    const base: WebhookEventRecord = {
      id: event.id,
      log_id: svc.newId("whe"),
      type: event.type,
      created: event.created,
      livemode: event.livemode === true,
      api_version: event.api_version ?? null,
      received_at: now,
      status: "received",
      attempts: 0,
      last_error: null,
      detail: null,
      processed_at: null,
      object_id: typeof object.id === "string" ? object.id : null,
      object_type: typeof object.object === "string" ? object.object : null,
      job_id: null,
      keep_until: now + WEBHOOK_RETENTION_MS,
      ...payloadFields(stored),
    };
    const wrongMode = modeMismatch(event.livemode === true, deps.config.stripe.livemode);
    if (wrongMode) return await ignoreAtIntake(event, base, stored, wrongMode);
    if (svc.applier.appliesAtIntake) {
      const done = await applyAtIntake(event, base, stored);
      if (done) return done;
    }
    const jobId = svc.newId("job");
    const record: WebhookEventRecord = { ...base, job_id: jobId };
    let job!: Job;
    const res = await intakeBatch.submit({
      add(op) {
        job = addJob(op, clock, svc.newId, WEBHOOK_PROCESS_JOB, { event_id: event.id }, {
          id: jobId,
          dueAt: now + INLINE_LEASE_MS,
          maxAttempts: WEBHOOK_MAX_ATTEMPTS,
        });
        addNewEvent(op, record, stored);
      },
      mutations: 8 + stored.chunks.length,
      bytes: record.payload_bytes + 2048,
    });
    if (!res.ok) {
      // The only check is `versionstamp: null` on the event id: this is a redelivery.
      return { received: true, event_id: event.id, duplicate: true };
    }
    track(processing.processInline(event, { record, versionstamp: res.versionstamp }, job));
    return { received: true, event_id: event.id };
  }

  /**
   * Plain ingestion applied in the commit that stores the event (as processed
   * or ignored); null when it must take the general path (nothing written).
   */
  async function applyAtIntake(
    event: Stripe.Event,
    base: WebhookEventRecord,
    stored: StoredPayload,
  ): Promise<IntakeResult | null> {
    const received: IntakeResult = { received: true, event_id: event.id };
    let rerun = false;
    const store: CommitHook = async (op, result) => {
      // Built again after a refused commit: was it refused because this id is stored now?
      if (rerun && (await getEvent(kv, event.id)).value) throw new Redelivery();
      rerun = true;
      addNewEvent(op, nextRecord(base, { ok: true, ...result }, "failed"), stored);
    };
    let result;
    try {
      result = await svc.applier.apply(event, { atIntake: true, alsoInCommit: store });
    } catch (error) {
      if (error instanceof Redelivery) return { ...received, duplicate: true };
      log.warn("webhook event not applied at intake; processing follows in the background", {
        event_id: event.id,
        type: event.type,
        error,
      });
      return null;
    }
    if (result.deferred) return null;
    if (result.joined) return received;
    // Nothing to apply (a type not processed, say): the record alone, and no job.
    const record = nextRecord(base, { ok: true, ...result }, "failed");
    const res = await intakeBatch.submit({
      add: (op) => addNewEvent(op, record, stored),
      mutations: 7 + stored.chunks.length,
      bytes: record.payload_bytes + 2048,
    });
    return res.ok ? received : { ...received, duplicate: true };
  }

  /**
   * Acknowledged (a 4xx would make Stripe retry for days, then disable the
   * endpoint) and recorded `ignored` with the reason, counted once per event.
   */
  async function ignoreAtIntake(
    event: Stripe.Event,
    base: WebhookEventRecord,
    stored: StoredPayload,
    why: { reason: string; detail: string },
  ): Promise<IntakeResult> {
    const now = clock.now();
    const record: WebhookEventRecord = {
      ...base,
      status: "ignored",
      detail: why.detail,
      processed_at: now,
    };
    const res = await intakeBatch.submit({
      add(op) {
        addNewEvent(op, record, stored);
        addIgnoredCount(op, why.reason);
      },
      mutations: 8 + stored.chunks.length,
      bytes: record.payload_bytes + 2048,
    });
    if (!res.ok) return { received: true, event_id: event.id, duplicate: true };
    log.warn("webhook event ignored", { event_id: event.id, type: event.type, ...why });
    return { received: true, event_id: event.id };
  }

  function track(p: Promise<void>): void {
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  }

  /** Resolves once every background processing started so far has finished. */
  async function drain(): Promise<void> {
    while (inflight.size) await Promise.allSettled([...inflight]);
  }

  async function get(id: string): Promise<WebhookEventView & { payload: unknown }> {
    const { value } = await getEvent(kv, id);
    if (!value) throw notFound("webhook event", id);
    const json = await readPayload(kv, value);
    return { ...toView(value), payload: json === null ? null : JSON.parse(json) };
  }

  async function list(q: WebhookListQuery): Promise<Page<WebhookEventView>> {
    const page = await listEventRecords(kv, svc.cursors, q, { limit: q.limit, cursor: q.cursor });
    return { data: page.data.map(toView), next_cursor: page.next_cursor };
  }

  /** Processes a stored event again, now, as an audited admin action. */
  async function replay(
    ctx: CallContext,
    id: string,
    options: { force?: boolean } = {},
  ): Promise<ReplayResult> {
    const { value: record } = await getEvent(kv, id);
    if (!record) throw notFound("webhook event", id);
    const replayable = record.status === "failed" || record.status === "dead";
    if (!replayable && !options.force) {
      throw new AppError(
        "conflict",
        `webhook event ${id} is ${record.status}; only failed or dead events are replayed ` +
          "(pass force=true to process a processed or pending one again)",
      );
    }
    const event = await loadEvent(record);
    const outcome = await attempt(event);
    const after = await svc.audit.commit(ctx, async (op) => {
      const entry = await getEvent(kv, id);
      if (!entry.value) throw notFound("webhook event", id);
      // A failed replay leaves the status as it was (a dead event stays dead).
      const next = nextRecord(entry.value, outcome, entry.value.status);
      addRecordUpdate(op, entry as Deno.KvEntry<WebhookEventRecord>, next);
      const audit: AuditInput[] = [{
        action: "webhook.replay",
        target: { type: "webhook_event", id },
        result: outcome.ok ? "ok" : "failed",
        before: { status: entry.value.status, attempts: entry.value.attempts },
        after: { status: next.status, attempts: next.attempts, detail: next.detail },
        reason: outcome.ok ? (options.force ? "forced replay" : null) : outcome.error,
      }];
      // Handled: the alert that the event had died is closed in the same commit.
      if (outcome.ok) {
        const note = `replayed by ${ctx.actor.id}: ${next.status}`;
        const at = new Date(clock.now()).toISOString();
        for (const alert of await openAlertsForWebhookEvent(kv, id, entry.value.received_at)) {
          audit.push(closeOpsAlert(op, alert, ctx.actor.id, note, at).audit);
        }
      }
      return { value: next, audit };
    });
    return {
      event: toView(after),
      replay: outcome.ok
        ? { result: "ok", detail: outcome.detail, error: null }
        : { result: "failed", detail: null, error: outcome.error },
    };
  }

  /** The retention sweep (see `sweepExpiredEvents`). */
  function sweepExpired(limit?: number, scan?: number) {
    return sweepExpiredEvents(kv, clock, limit, scan);
  }

  return {
    receive,
    drain,
    runJob: processing.runJob,
    get,
    list,
    replay,
    sweepExpired,
    /** events acknowledged but ignored, per reason (`livemode_mismatch`) */
    ignoredCounts: () => getIgnoredCounts(kv),
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;

/**
 * A live event reaching a test-mode service (or the reverse): a test
 * endpoint's secret in the list must not feed test data into the live ledger.
 */
function modeMismatch(
  eventLive: boolean,
  serviceLive: boolean,
): { reason: string; detail: string } | null {
  if (eventLive === serviceLive) return null;
  const mode = (live: boolean) => live ? "live" : "test";
  return {
    reason: "livemode_mismatch",
    detail: `ignored: livemode ${eventLive} (a ${mode(eventLive)} event) on a service ` +
      `running with a ${mode(serviceLive)} key; check which endpoint's secret is configured`,
  };
}

/** Thrown from the intake's commit hook: another delivery of the event was stored first. */
class Redelivery extends Error {}

/** The job handlers main.ts passes to `runDueJobs` in its cron (and local loop). */
export function webhookJobHandlers(
  services: { webhooks: WebhookService },
): Record<string, JobHandler> {
  return { [WEBHOOK_PROCESS_JOB]: (job) => services.webhooks.runJob(job) };
}
