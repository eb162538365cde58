/**
 * Replaying a stored webhook event: processed again now, as an audited admin
 * action. A failed or dead event is replayed; another only with `force`; one
 * of the other mode than the service's key never (the intake's check). A
 * replay that processes the event closes the ops alert its death raised, in
 * the same commit. It processes under the event's claim (claims.ts), so two
 * replays, a replay and the retry job, or a replay and a dismissal never both
 * act, and none starts while the attempt right after intake may still be
 * processing the event (`inlineAttempt`); the same admin's same replay sent
 * again (a second click, a burst) answers what the first did, with nothing
 * written (README, "Stripe webhooks"). A refusal (the mode, the status, an
 * attempt in flight) is audited `denied` with its reason before it is answered,
 * as refused actions are (README: the audit log records every action, denied
 * ones too); a 404, or a race lost ten times over, decides nothing and is not.
 */
import type { Deps } from "../deps.ts";
import type { AuditInput, AuditService } from "../audit/mod.ts";
import { byWhom, type CallContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { EventProcessing } from "./processing.ts";
import {
  addClaimRelease,
  addRecordUpdate,
  getClaim,
  getEvent,
  type ReplayMark,
  type WebhookEventClaim,
  type WebhookEventRecord,
} from "../../kv/webhook_events.ts";
import { type ReplayResult, toView } from "./view.ts";
import { closeOpsAlert } from "../ops_alerts.ts";
import { openAlertsForWebhookEvent } from "../../kv/ops_alerts.ts";
import { addEventJobsDeletion } from "./event_jobs.ts";
import { auditingRefusals, refused } from "./refusals.ts";
import { modeMismatch } from "./ignore.ts";
import {
  busyError,
  inlineAttempt,
  inlineBusyError,
  liveClaim,
  newClaim,
  releaseClaim,
  takeClaim,
  waitForRelease,
} from "./claims.ts";

export interface ReplayParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  audit: AuditService;
  processing: EventProcessing;
  /** the mode of the service's key: an event of the other mode is never applied */
  livemode: boolean;
}

const mode = (live: boolean) => live ? "live" : "test";

/**
 * The intake's mode check (README, "Stripe webhooks"), for a replay: an event
 * of the other mode is refused whatever its status, with or without `force`.
 */
function wrongModeRefusal(record: WebhookEventRecord, livemode: boolean): AppError | null {
  if (!modeMismatch(record.livemode, livemode)) return null;
  return new AppError(
    "conflict",
    `webhook event ${record.id} is a ${mode(record.livemode)} event (livemode ` +
      `${record.livemode}) and this service runs with a ${mode(livemode)} key: it is never ` +
      "applied, and not replayed, forced or not. A secret of the other mode's endpoint is " +
      "probably in STRIPE_WEBHOOK_SECRETS: remove it, and let the service running with the " +
      `${mode(record.livemode)} key take that endpoint's events`,
  );
}

/** Who last acted on `record`, when that explains its status: a replay, or a dismissal. */
function lastActor(record: WebhookEventRecord, ctx: CallContext): string {
  const r = record.replayed;
  // a replay that failed did not make it what it is (outcome.ts)
  if (r?.result === "ok" && r.status === record.status && r.attempts === record.attempts) {
    return ` (replayed ${byWhom(r.by, new Date(r.at).toISOString(), ctx)})`;
  }
  const d = record.status === "ignored" && record.ignored_reason === "dismissed"
    ? record.dismissed
    : null;
  if (d && record.processed_at !== null) {
    return ` (dismissed ${byWhom(d.by, new Date(record.processed_at).toISOString(), ctx)})`;
  }
  return "";
}

/**
 * Why `record` is not replayed now, or null: the intake's mode check, the
 * attempt right after intake still running, then its status.
 */
function refusal(
  record: WebhookEventRecord,
  parts: Pick<ReplayParts, "livemode" | "clock">,
  force: boolean,
  ctx: CallContext,
): AppError | null {
  const wrongMode = wrongModeRefusal(record, parts.livemode);
  if (wrongMode) return wrongMode;
  if (inlineAttempt(record, parts.clock.now()) !== null) return inlineBusyError(record);
  if (record.status === "failed" || record.status === "dead" || force) return null;
  return new AppError(
    "conflict",
    `webhook event ${record.id} is ${record.status}${lastActor(record, ctx)}; only failed or ` +
      "dead events are replayed (pass force=true to process a processed, ignored or received " +
      "one again)",
  );
}

/**
 * What this admin's same replay answered, when it is the last thing that
 * happened to the event: one that processed it, or the one this request
 * waited for (`waited`: its claim); a replay that failed may be sent again.
 */
function sameReplay(
  record: WebhookEventRecord,
  ctx: CallContext,
  force: boolean,
  waited: string | null,
): ReplayResult | null {
  const r = record.replayed;
  if (!r || r.by !== ctx.actor.id || r.force !== force) return null;
  if (r.attempts !== record.attempts || r.status !== record.status) return null;
  if (r.result !== "ok" && r.claim !== waited) return null;
  return { event: toView(record), replay: { result: r.result, detail: r.detail, error: r.error } };
}

/**
 * Judges the replay on the record and the event's claim, takes the claim and
 * processes. A claim held by this admin's same replay is waited for and its
 * answer given; any other is 409 naming who holds it and since when. A
 * refusal is audited `denied` before it is thrown.
 */
export async function replayEvent(
  parts: ReplayParts,
  ctx: CallContext,
  id: string,
  options: { force?: boolean } = {},
): Promise<ReplayResult> {
  const force = options.force === true;
  return await auditingRefusals(
    parts.audit,
    ctx,
    { action: "webhook.replay", id, after: { force } },
    () => judgeAndProcess(parts, ctx, id, force),
  );
}

async function judgeAndProcess(
  parts: ReplayParts,
  ctx: CallContext,
  id: string,
  force: boolean,
): Promise<ReplayResult> {
  const { kv, clock } = parts;
  let waited: string | null = null;
  for (let round = 0; round < 10; round++) {
    const [judged, held] = await Promise.all([getEvent(kv, id), getClaim(kv, id)]);
    if (!judged.value) throw notFound("webhook event", id);
    const live = liveClaim(held, clock.now());
    if (live) {
      const mine = live.kind === "replay" && live.by === ctx.actor.id && live.force === force;
      if (!mine || waited === live.id) throw refused(busyError(id, live, ctx));
      waited = live.id;
      await waitForRelease(kv, clock, id, live.id);
      continue;
    }
    const answered = sameReplay(judged.value, ctx, force, waited);
    if (answered) return answered;
    const refusedNow = refusal(judged.value, parts, force, ctx);
    if (refusedNow) throw refused(refusedNow);
    const claim = newClaim(clock, "replay", ctx.actor.id, force);
    const entry = judged as Deno.KvEntry<WebhookEventRecord>;
    if (await takeClaim(kv, entry, held, claim)) {
      return await processClaimed(parts, ctx, entry.value, claim);
    }
  }
  throw new AppError("conflict", `webhook event ${id} kept changing; send the replay again`);
}

/** Processes under `claim`, then records the outcome, the replay and the audit entry at once. */
async function processClaimed(
  parts: ReplayParts,
  ctx: CallContext,
  judged: WebhookEventRecord,
  claim: WebhookEventClaim,
): Promise<ReplayResult> {
  const { id } = judged;
  try {
    const event = await parts.processing.loadEvent(judged);
    const outcome = await parts.processing.attempt(event);
    const result = outcome.ok
      ? { result: "ok" as const, detail: outcome.detail, error: null }
      : { result: "failed" as const, detail: null, error: outcome.error };
    const after = await parts.audit.commit(ctx, async (op) => {
      const entry = await getEvent(parts.kv, id);
      if (!entry.value) throw notFound("webhook event", id);
      // Held all along, nothing else processed or dismissed it; a claim whose time ran out
      // may have been taken over: what this replay did is recorded all the same.
      await addClaimRelease(parts.kv, op, id, claim);
      // A failed replay leaves the status as it was (a dead event stays dead).
      const next = parts.processing.nextRecord(entry.value, outcome, entry.value.status);
      const mark: ReplayMark = {
        by: ctx.actor.id,
        at: outcome.ok && next.processed_at !== null ? next.processed_at : parts.clock.now(),
        force: claim.force,
        claim: claim.id,
        ...result,
        attempts: next.attempts,
        status: next.status,
      };
      next.replayed = mark;
      addRecordUpdate(op, entry as Deno.KvEntry<WebhookEventRecord>, next);
      const audit: AuditInput[] = [{
        action: "webhook.replay",
        target: { type: "webhook_event", id },
        result: outcome.ok ? "ok" : "failed",
        before: { status: entry.value.status, attempts: entry.value.attempts },
        // a failed replay's error is here (and in `reason`): the record's `last_error` only
        // says why an event is failed or dead (outcome.ts)
        after: {
          status: next.status,
          attempts: next.attempts,
          detail: next.detail,
          ...(outcome.ok ? {} : { error: outcome.error }),
        },
        reason: outcome.ok ? (claim.force ? "forced replay" : null) : outcome.error,
      }];
      // Handled: the alert that the event had died is closed in the same commit, and its
      // retry (pending or dead-lettered) goes, so /metrics no longer counts it.
      if (outcome.ok) {
        await addEventJobsDeletion(parts.kv, op, id);
        const note = `replayed by ${ctx.actor.id}: ${next.status}`;
        const at = new Date(parts.clock.now()).toISOString();
        for (
          const alert of await openAlertsForWebhookEvent(parts.kv, id, entry.value.received_at)
        ) {
          audit.push(closeOpsAlert(op, alert, ctx.actor.id, note, at).audit);
        }
      }
      return { value: next, audit };
    });
    return { event: toView(after), replay: result };
  } catch (error) {
    await releaseClaim(parts.kv, id, claim).catch(() => {}); // else it lapses by itself
    throw error;
  }
}
