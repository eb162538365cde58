/**
 * Replaying a stored webhook event: processed again now, as an audited admin
 * action. A failed or dead event is replayed; another only with `force`; one
 * of the other mode than the service's key never (the intake's check). A
 * replay that processes the event closes the ops alert its death raised, in
 * the same commit.
 */
import type { Deps } from "../deps.ts";
import type { AuditInput, AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { createKeyedLock } from "../../core/keyed_lock.ts";
import type { EventProcessing } from "./processing.ts";
import { addRecordUpdate, getEvent, type WebhookEventRecord } from "../../kv/webhook_events.ts";
import { type ReplayResult, toView } from "./view.ts";
import { closeOpsAlert } from "../ops_alerts.ts";
import { openAlertsForWebhookEvent } from "../../kv/ops_alerts.ts";
import { modeMismatch } from "./ignore.ts";

export interface ReplayParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  audit: AuditService;
  processing: EventProcessing;
  /** the mode of the service's key: an event of the other mode is never applied */
  livemode: boolean;
  /** one replay of an event at a time in this isolate (core/keyed_lock.ts) */
  lock: ReturnType<typeof createKeyedLock>;
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

/** Why `record` is not replayed now, or null: the intake's mode check, then its status. */
function refusal(record: WebhookEventRecord, livemode: boolean, force: boolean): AppError | null {
  const wrongMode = wrongModeRefusal(record, livemode);
  if (wrongMode) return wrongMode;
  if (record.status === "failed" || record.status === "dead" || force) return null;
  return new AppError(
    "conflict",
    `webhook event ${record.id} is ${record.status}; only failed or dead events are replayed ` +
      "(pass force=true to process a processed, ignored or received one again)",
  );
}

/**
 * Replays of one event are taken one at a time in this isolate (`parts.lock`):
 * a second sent meanwhile waits, then is judged on what the first left, as if
 * sent after it.
 */
export function replayEvent(
  parts: ReplayParts,
  ctx: CallContext,
  id: string,
  options: { force?: boolean } = {},
): Promise<ReplayResult> {
  return parts.lock(`replay:${id}`, () => replayOnce(parts, ctx, id, options.force === true));
}

async function replayOnce(
  parts: ReplayParts,
  ctx: CallContext,
  id: string,
  force: boolean,
): Promise<ReplayResult> {
  const judged = await getEvent(parts.kv, id);
  if (!judged.value) throw notFound("webhook event", id);
  const refused = refusal(judged.value, parts.livemode, force);
  if (refused) throw refused;
  const event = await parts.processing.loadEvent(judged.value);
  const outcome = await parts.processing.attempt(event);
  const after = await parts.audit.commit(ctx, async (op) => {
    const entry = await getEvent(parts.kv, id);
    if (!entry.value) throw notFound("webhook event", id);
    // The status check is part of the commit (its write checks the record as read here): a
    // record changed since it was judged (a replay in another isolate, a retry by cron) is
    // judged again, and this replay is refused as one sent after that change would be.
    if (entry.versionstamp !== judged.versionstamp) {
      const late = refusal(entry.value, parts.livemode, force);
      if (late) throw late;
    }
    // A failed replay leaves the status as it was (a dead event stays dead).
    const next = parts.processing.nextRecord(entry.value, outcome, entry.value.status);
    addRecordUpdate(op, entry as Deno.KvEntry<WebhookEventRecord>, next);
    const audit: AuditInput[] = [{
      action: "webhook.replay",
      target: { type: "webhook_event", id },
      result: outcome.ok ? "ok" : "failed",
      before: { status: entry.value.status, attempts: entry.value.attempts },
      after: { status: next.status, attempts: next.attempts, detail: next.detail },
      reason: outcome.ok ? (force ? "forced replay" : null) : outcome.error,
    }];
    // Handled: the alert that the event had died is closed in the same commit.
    if (outcome.ok) {
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
  return {
    event: toView(after),
    replay: outcome.ok
      ? { result: "ok", detail: outcome.detail, error: null }
      : { result: "failed", detail: null, error: outcome.error },
  };
}
