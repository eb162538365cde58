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
import { type AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { type CommitHook } from "../ingest/mod.ts";
import { AppError, notFound, validationFailed } from "../../core/errors.ts";
import { createSignatureVerifier } from "./verify.ts";
import { createEventProcessing, type EventApplier, type EventProcessing } from "./processing.ts";
import { INLINE_LEASE_MS } from "./claims.ts";
import { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_PROCESS_JOB, WEBHOOK_RETENTION_MS } from "./outcome.ts";
import { addJob, type Job, type JobHandler } from "../../kv/jobs.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import {
  addNewEvent,
  encodePayload,
  getEvent,
  getIgnoredCounts,
  listEventRecords,
  payloadFields,
  readPayload,
  type StoredPayload,
  type WebhookEventRecord,
} from "../../kv/webhook_events.ts";
import {
  type IntakeResult,
  type ReplayResult,
  toView,
  type WebhookEventView,
  type WebhookListQuery,
} from "./view.ts";
import { CommitBatcher } from "./batch.ts";
import { sweepExpiredEvents } from "./retention.ts";
import { replayEvent } from "./replay.ts";
import { dismissEvent } from "./dismiss.ts";
import { ignoreAtIntake, modeMismatch } from "./ignore.ts";
import type { Histogram } from "../../core/metrics.ts";
import { createKeyedLock } from "../../core/keyed_lock.ts";

export type { IntakeResult, ReplayResult, WebhookEventView, WebhookListQuery } from "./view.ts";

/** Stripe's events are a few KiB; anything this large is not from Stripe. */
export const MAX_WEBHOOK_BODY_BYTES = 512 * 1024;

interface Svc {
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
  applier: EventApplier;
}

class WebhookServiceImpl {
  readonly #kv: Deno.Kv;
  readonly #clock: Deps["clock"];
  readonly #log: Deps["log"];
  readonly #svc: Svc;
  readonly #verifier: ReturnType<typeof createSignatureVerifier>;
  readonly #inflight = new Set<Promise<void>>();
  readonly #intakeBatch: CommitBatcher;
  readonly #processing: EventProcessing;
  readonly #livemode: boolean;
  readonly #intakeLag: Histogram | undefined;
  readonly #replayLock = createKeyedLock();

  constructor(deps: Deps, svc: Svc) {
    this.#kv = deps.kv;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#svc = svc;
    this.#verifier = createSignatureVerifier(deps.config.stripe.webhookSecrets, deps.clock);
    this.#intakeBatch = new CommitBatcher(deps.kv);
    this.#processing = createEventProcessing(deps, svc);
    this.#livemode = deps.config.stripe.livemode;
    // Stripe's `created` is in whole seconds: the lag is exact to about a second.
    this.#intakeLag = deps.metrics?.histogram(
      "payops_webhook_intake_lag_seconds",
      "From the event's creation at Stripe to its verified arrival here",
      [1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 259200],
    );
  }

  runJob(job: Job): Promise<void> {
    return this.#processing.runJob(job);
  }

  async receive(rawBody: string, signature: string | undefined): Promise<IntakeResult> {
    // UTF-8 needs at most 3 bytes per UTF-16 unit: encode only when it could be over.
    const mayExceed = rawBody.length * 3 > MAX_WEBHOOK_BODY_BYTES;
    if (mayExceed && new TextEncoder().encode(rawBody).length > MAX_WEBHOOK_BODY_BYTES) {
      throw new AppError("payload_too_large", "webhook bodies are limited to 512 KiB");
    }
    const event = this.#verifier.verify(rawBody, signature);
    const now = this.#clock.now();
    this.#intakeLag?.observe({}, Math.max(0, now / 1000 - event.created));
    const object = event.data.object as { id?: unknown; object?: unknown };
    const stored = encodePayload(JSON.stringify(event));
    const base: WebhookEventRecord = {
      id: event.id,
      log_id: this.#svc.newId("whe"),
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
    const wrongMode = modeMismatch(event.livemode === true, this.#livemode);
    if (wrongMode) {
      const intake = { batch: this.#intakeBatch, log: this.#log, now };
      return await ignoreAtIntake(intake, event, base, stored, wrongMode);
    }
    if (this.#svc.applier.appliesAtIntake) {
      const done = await this.applyAtIntake(event, base, stored);
      if (done) return done;
    }
    const jobId = this.#svc.newId("job");
    const record: WebhookEventRecord = { ...base, job_id: jobId };
    let job!: Job;
    const res = await this.#intakeBatch.submit({
      add: (op) => {
        job = addJob(op, this.#clock, this.#svc.newId, WEBHOOK_PROCESS_JOB, {
          event_id: event.id,
        }, { id: jobId, dueAt: now + INLINE_LEASE_MS, maxAttempts: WEBHOOK_MAX_ATTEMPTS });
        addNewEvent(op, record, stored);
      },
      mutations: 8 + stored.chunks.length,
      bytes: record.payload_bytes + 2048,
    });
    if (!res.ok) {
      // The only check is `versionstamp: null` on the event id: this is a redelivery.
      return { received: true, event_id: event.id, duplicate: true };
    }
    this.track(
      this.#processing.processInline(event, { record, versionstamp: res.versionstamp }, job),
    );
    return { received: true, event_id: event.id };
  }

  /**
   * Plain ingestion applied in the commit that stores the event (as processed
   * or ignored); null when it must take the general path (nothing written).
   */
  async applyAtIntake(
    event: Stripe.Event,
    base: WebhookEventRecord,
    stored: StoredPayload,
  ): Promise<IntakeResult | null> {
    const received: IntakeResult = { received: true, event_id: event.id };
    let rerun = false;
    const store: CommitHook = async (op, result) => {
      // Built again after a refused commit: was it refused because this id is stored now?
      if (rerun && (await getEvent(this.#kv, event.id)).value) throw new Redelivery();
      rerun = true;
      addNewEvent(op, this.#processing.nextRecord(base, { ok: true, ...result }, "failed"), stored);
    };
    let result;
    try {
      result = await this.#svc.applier.apply(event, { atIntake: true, alsoInCommit: store });
    } catch (error) {
      if (error instanceof Redelivery) return { ...received, duplicate: true };
      this.#log.warn(
        "webhook event not applied at intake; processing follows in the background",
        {
          event_id: event.id,
          type: event.type,
          error,
        },
      );
      return null;
    }
    if (result.deferred) return null;
    if (result.joined) return received;
    // Nothing to apply (a type not processed, say): the record alone, and no job.
    const record = this.#processing.nextRecord(base, { ok: true, ...result }, "failed");
    const res = await this.#intakeBatch.submit({
      add: (op) => addNewEvent(op, record, stored),
      mutations: 7 + stored.chunks.length,
      bytes: record.payload_bytes + 2048,
    });
    return res.ok ? received : { ...received, duplicate: true };
  }

  track(p: Promise<void>): void {
    this.#inflight.add(p);
    p.finally(() => this.#inflight.delete(p));
  }

  /** Resolves once every background processing started so far has finished. */
  async drain(): Promise<void> {
    while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
  }

  async get(id: string): Promise<WebhookEventView & { payload: unknown }> {
    const { value } = await getEvent(this.#kv, id);
    if (!value) throw notFound("webhook event", id);
    const json = await readPayload(this.#kv, value);
    return { ...toView(value), payload: json === null ? null : JSON.parse(json) };
  }

  async list(q: WebhookListQuery): Promise<Page<WebhookEventView>> {
    if (q.ignored_reason && q.status && q.status !== "ignored") {
      throw validationFailed([{
        path: "query.ignored_reason",
        message: `only ignored events have a reason; drop status=${q.status} or ignored_reason`,
      }]);
    }
    const page = await listEventRecords(this.#kv, this.#svc.cursors, q, {
      limit: q.limit,
      cursor: q.cursor,
    });
    return { data: page.data.map(toView), next_cursor: page.next_cursor };
  }

  /** Processes a stored event again, now, as an audited admin action. */
  replay(ctx: CallContext, id: string, options: { force?: boolean } = {}): Promise<ReplayResult> {
    const parts = {
      kv: this.#kv,
      clock: this.#clock,
      audit: this.#svc.audit,
      livemode: this.#livemode,
    };
    return replayEvent({ ...parts, processing: this.#processing }, ctx, id, options);
  }

  /** Records a failed or dead event `ignored` (dismissed) with the admin's note. */
  dismiss(ctx: CallContext, id: string, note: string): Promise<WebhookEventView> {
    const parts = { kv: this.#kv, clock: this.#clock, audit: this.#svc.audit };
    return dismissEvent({ ...parts, lock: this.#replayLock }, ctx, id, note);
  }

  /** The retention sweep (see `sweepExpiredEvents`). */
  sweepExpired(limit?: number, scan?: number) {
    return sweepExpiredEvents(this.#kv, this.#clock, limit, scan);
  }
}

export function createWebhookService(deps: Deps, svc: Svc) {
  const w = new WebhookServiceImpl(deps, svc);
  return {
    receive: (rawBody: string, signature: string | undefined) => w.receive(rawBody, signature),
    drain: () => w.drain(),
    runJob: (job: Job) => w.runJob(job),
    get: (id: string) => w.get(id),
    list: (q: WebhookListQuery) => w.list(q),
    replay: (ctx: CallContext, id: string, options?: { force?: boolean }) =>
      w.replay(ctx, id, options),
    dismiss: (ctx: CallContext, id: string, note: string) => w.dismiss(ctx, id, note),
    sweepExpired: (limit?: number, scan?: number) => w.sweepExpired(limit, scan),
    /** events acknowledged but ignored, per reason (`livemode_mismatch`) */
    ignoredCounts: () => getIgnoredCounts(deps.kv),
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;

/** Thrown from the intake's commit hook: another delivery of the event was stored first. */
class Redelivery extends Error {}

/** The job handlers main.ts passes to `runDueJobs` in its cron (and local loop). */
export function webhookJobHandlers(
  services: { webhooks: WebhookService },
): Record<string, JobHandler> {
  return { [WEBHOOK_PROCESS_JOB]: (job) => services.webhooks.runJob(job) };
}
