/**
 * Processing a stored webhook event: one attempt through the applier, and the
 * bookkeeping of its outcome on the intake log record and the event's job.
 *
 * The intake writes the job already leased to the inline attempt (due only
 * after `INLINE_LEASE_MS`, claims.ts), so the fast path needs no claim commit; if the
 * process dies, cron finds the job once the lease has run out. A failed
 * attempt leaves the job to `runDueJobs` (backoff); after its last attempt the
 * event is `dead` and waits for a replay, and an ops alert (audited, in the
 * same commit) tells the people on duty that the account's picture is missing
 * an event. Cron's retry and a replay take the event's claim (claims.ts), one
 * at a time, and a replay is refused while the inline attempt holds its lease;
 * attempts that still overlap (an inline attempt outliving its lease, a claim
 * whose time ran out) are harmless: the applier is idempotent, and a record
 * already `processed` is never set back.
 *
 * An applier that takes `alsoInCommit` records the outcome (record and job)
 * in the commit that applies the event, saving a commit per event; one that
 * does not (or changes nothing on the audited path) gets a commit of its own.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import { type AuditService } from "../audit/mod.ts";
import { systemContext } from "../../domain/actor.ts";
import { WEBHOOK_PROCESS_ACTOR } from "../../domain/system_actors.ts";
import type { Job } from "../../kv/jobs.ts";
import type { IdFactory } from "../../core/ids.ts";
import { type ApplyOptions, type ApplyResult, type CommitHook } from "../ingest/mod.ts";
import { commitChecked } from "../../kv/atomic.ts";
import {
  addClaimRelease,
  addJobDone,
  addRecordUpdate,
  eventRecordKey,
  getEvent,
  readPayload,
  rescheduleInlineJob,
  type WebhookEventClaim,
  type WebhookEventRecord,
  type WebhookEventStatus,
} from "../../kv/webhook_events.ts";
import { CommitBatcher } from "./batch.ts";
import { underRetryClaim } from "./claims.ts";
import { closeWhatDeathRaised, raiseDeadEventAlert, revivedFromDead } from "./dead.ts";
import { type Outcome, recordAfter, WEBHOOK_MAX_ATTEMPTS } from "./outcome.ts";

/** first retry after a failed inline attempt: kv/jobs.ts's first backoff step */
const FIRST_RETRY_MS = 5_000;

/** What processes one verified event (services/ingest/applier.ts). */
export interface EventApplier {
  apply(event: Stripe.Event, options?: ApplyOptions): Promise<ApplyResult>;
  /**
   * `apply` honours `atIntake` (only KV work, else `deferred`): the intake then
   * applies plain ingestion in the commit that stores the event.
   */
  readonly appliesAtIntake?: boolean;
}

/** One event's processing: an attempt, its bookkeeping, the inline attempt and cron's retries. */
class EventProcessor {
  readonly #kv: Deno.Kv;
  readonly #clock: Deps["clock"];
  readonly #log: Deps["log"];
  readonly #applier: EventApplier;
  readonly #svc: ProcessingServices;
  readonly #deps: { kv: Deno.Kv; clock: Deps["clock"]; audit: AuditService };
  readonly #alertDeps: Parameters<typeof raiseDeadEventAlert>[1];
  // Events settling at the same moment share one commit.
  readonly #settleBatch: CommitBatcher;

  constructor(deps: Deps, svc: ProcessingServices) {
    this.#kv = deps.kv;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#applier = svc.applier;
    this.#svc = svc;
    this.#deps = { kv: deps.kv, clock: deps.clock, audit: svc.audit };
    this.#alertDeps = { newId: svc.newId, log: deps.log, clock: deps.clock };
    this.#settleBatch = new CommitBatcher(deps.kv);
  }

  async attempt(event: Stripe.Event, options?: ApplyOptions): Promise<Outcome> {
    try {
      const { applied, detail, joined, notProcessed } = await this.#applier.apply(event, options);
      const out: Outcome = { ok: true, applied, detail, joined: joined === true };
      return notProcessed ? { ...out, notProcessed } : out;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#log.warn("webhook event processing failed", {
        event_id: event.id,
        type: event.type,
        error,
        next: `retried by the webhook.process job (${WEBHOOK_MAX_ATTEMPTS} attempts, then dead ` +
          `with an ops alert); once the cause is fixed, replay it (POST ` +
          `/api/admin/payments/webhook-events/${event.id}/replay), or dismiss it if it will ` +
          `never apply (README, Stripe webhooks)`,
      });
      return { ok: false, error: message.slice(0, 1000) };
    }
  }

  /** The record after an attempt; `failedStatus` is what a failure makes it (outcome.ts). */
  nextRecord(
    before: WebhookEventRecord,
    outcome: Outcome,
    failedStatus: WebhookEventStatus,
  ): WebhookEventRecord {
    return recordAfter(before, outcome, failedStatus, this.#clock.now());
  }

  /**
   * Records an attempt's outcome on a fresh read; on success also removes `job`
   * if given; lets `claim` go in the same commit (claims.ts).
   */
  async settle(
    eventId: string,
    outcome: Outcome,
    opts: { job: Job | null; failedStatus?: WebhookEventStatus; claim?: WebhookEventClaim },
  ): Promise<WebhookEventRecord | null> {
    let revived = false;
    const { value } = await commitChecked(this.#kv, async (op) => {
      const entry = await getEvent(this.#kv, eventId);
      if (opts.claim) await addClaimRelease(this.#kv, op, eventId, opts.claim);
      if (entry.value === null) return null;
      if (outcome.ok && opts.job) addJobDone(op, opts.job);
      const after = this.nextRecord(entry.value, outcome, opts.failedStatus ?? "failed");
      addRecordUpdate(op, entry as Deno.KvEntry<WebhookEventRecord>, after);
      revived = revivedFromDead(entry.value, after);
      return after;
    }, { what: `webhook event ${eventId}` });
    if (value) this.noteLateFailure(value, outcome);
    if (value && revived) await closeWhatDeathRaised(this.#deps, value);
    return value;
  }

  /** A failure that landed on a record another attempt had settled: counted, nothing else. */
  noteLateFailure(after: WebhookEventRecord, outcome: Outcome): void {
    if (outcome.ok || (after.status !== "processed" && after.status !== "ignored")) return;
    this.#log.info("webhook event attempt failed after another settled the event", {
      event_id: after.id,
      status: after.status,
      attempts: after.attempts,
      next: "nothing: the record keeps its status and last_error (README, Stripe webhooks)",
    });
  }

  closeWhatDeathRaised(after: WebhookEventRecord): Promise<void> {
    return closeWhatDeathRaised(
      { kv: this.#kv, clock: this.#clock, audit: this.#svc.audit },
      after,
    );
  }

  async loadEvent(record: WebhookEventRecord): Promise<Stripe.Event> {
    const json = await readPayload(this.#kv, record);
    if (json === null) throw new Error(`the stored payload of ${record.id} is missing`);
    return JSON.parse(json) as Stripe.Event;
  }

  /**
   * The settle of a successful inline attempt, as writes joining the
   * applier's commit: the record as the intake wrote it (no read), or, when
   * the commit is built again (a lost race, a replay got there first), as it
   * is now.
   */
  joinedSettle(
    stored: { record: WebhookEventRecord; versionstamp: string },
    job: Job,
    landed: { revived: WebhookEventRecord | null },
  ): CommitHook {
    let rerun = false;
    return async (op, result) => {
      const before = rerun ? await getEvent(this.#kv, stored.record.id) : {
        key: eventRecordKey(stored.record.id),
        value: stored.record,
        versionstamp: stored.versionstamp,
      };
      rerun = true;
      if (before.value === null) return; // swept meanwhile: nothing left to record
      addJobDone(op, job);
      const after = this.nextRecord(before.value, { ok: true, ...result }, "failed");
      addRecordUpdate(op, before as Deno.KvEntry<WebhookEventRecord>, after);
      // the build that lands is the last one run
      landed.revived = revivedFromDead(before.value, after) ? after : null;
    };
  }

  /** The attempt right after intake; never throws (it runs unawaited). */
  async processInline(
    event: Stripe.Event,
    stored: { record: WebhookEventRecord; versionstamp: string },
    job: Job,
  ): Promise<void> {
    try {
      const landed = { revived: null as WebhookEventRecord | null };
      const alsoInCommit = this.joinedSettle(stored, job, landed);
      const outcome = await this.attempt(event, { alsoInCommit });
      if (outcome.ok && outcome.joined) {
        if (landed.revived) await closeWhatDeathRaised(this.#deps, landed.revived);
        return;
      }
      if (outcome.ok) {
        // Fast path: the record is as the intake wrote it (same versionstamp), so no read.
        const before = {
          key: eventRecordKey(event.id),
          value: stored.record,
          versionstamp: stored.versionstamp,
        };
        const after = this.nextRecord(stored.record, outcome, "failed");
        const res = await this.#settleBatch.submit({
          add(op) {
            addJobDone(op, job);
            addRecordUpdate(op, before, after);
          },
          mutations: 10,
          bytes: 4096,
        });
        if (!res.ok) await this.settle(event.id, outcome, { job });
        return;
      }
      const dueAt = this.#clock.now() + FIRST_RETRY_MS;
      await this.settle(event.id, outcome, { job: null });
      await rescheduleInlineJob(this.#kv, job, stored.versionstamp, dueAt, outcome.error);
    } catch (error) {
      // Bookkeeping failed (KV unavailable?): the job stays and cron retries after the lease.
      this.#log.error("webhook inline processing failed", { event_id: event.id, error });
    }
  }

  /** The `webhook.process` job: cron's retry, under the event's claim (claims.ts). */
  async runJob(job: Job): Promise<void> {
    const { event_id } = job.payload as { event_id: string };
    // null: gone (swept) or already done by the inline attempt, another runner or a replay
    const outcome = await underRetryClaim(
      this.#kv,
      this.#clock,
      event_id,
      async (record, claim) => {
        const outcome = await this.attempt(await this.loadEvent(record));
        if (!outcome.ok && job.attempts >= job.max_attempts) {
          await this.deadLetter(event_id, outcome, claim);
        } else await this.settle(event_id, outcome, { job: null, claim });
        return outcome;
      },
    );
    if (outcome && !outcome.ok) throw new Error(outcome.error);
  }

  /**
   * The last attempt failed: the record becomes `dead` and, the first time, an
   * ops alert is raised with its audit entry, all in one commit.
   */
  async deadLetter(
    eventId: string,
    outcome: Outcome & { ok: false },
    claim: WebhookEventClaim,
  ): Promise<void> {
    const after = await this.#svc.audit.commit(systemContext(WEBHOOK_PROCESS_ACTOR), async (op) => {
      const entry = await getEvent(this.#kv, eventId);
      await addClaimRelease(this.#kv, op, eventId, claim);
      if (entry.value === null) return { value: null, audit: [] };
      const before = entry.value;
      const after = this.nextRecord(before, outcome, "dead");
      addRecordUpdate(op, entry as Deno.KvEntry<WebhookEventRecord>, after);
      // Alerted once, when it dies (not again, nor when another attempt processed it meanwhile).
      if (after.status !== "dead" || before.status === "dead") return { value: after, audit: [] };
      return {
        value: after,
        audit: [raiseDeadEventAlert(op, this.#alertDeps, before, outcome.error)],
      };
    });
    if (after) this.noteLateFailure(after, outcome);
  }
}

type ProcessingServices = { applier: EventApplier; audit: AuditService; newId: IdFactory };

export function createEventProcessing(deps: Deps, svc: ProcessingServices) {
  const p = new EventProcessor(deps, svc);
  return {
    attempt: (event: Stripe.Event, options?: ApplyOptions) => p.attempt(event, options),
    nextRecord: (before: WebhookEventRecord, outcome: Outcome, failed: WebhookEventStatus) =>
      p.nextRecord(before, outcome, failed),
    loadEvent: (record: WebhookEventRecord) => p.loadEvent(record),
    processInline: (...args: Parameters<EventProcessor["processInline"]>) =>
      p.processInline(...args),
    runJob: (job: Job) => p.runJob(job),
  };
}

export type EventProcessing = ReturnType<typeof createEventProcessing>;
