/**
 * Dismissing a webhook event that will never process (README, "Stripe
 * webhooks"): an admin who looked at a `failed` or `dead` event and decided
 * nothing of it is to be applied (a malformed event, an object deleted at
 * Stripe) records it `ignored` (`ignored_reason: dismissed`) with their note,
 * audited. Its retry job (pending or dead-lettered) is deleted and the ops
 * alert its death raised is closed in the same commit, so the failed/dead
 * counts and the job gauges in /metrics drop. It stays listed, and can still be replayed with `force=true`.
 * The same dismissal sent again by the same admin (a second click, a retry,
 * a burst) answers the dismissed event with nothing written; any other is 409
 * naming who dismissed it and when, and so is one while a replay or the retry
 * job is processing the event (its claim, claims.ts). Each refusal is audited
 * `webhook.dismiss` `denied` with its reason before it is answered, as a
 * refused replay is (replay.ts); a 404 decides nothing and is not, and an
 * answer to the same dismissal writes nothing.
 */
import { byWhom, type CallContext } from "../../domain/actor.ts";
import type { createKeyedLock } from "../../core/keyed_lock.ts";
import { AppError, notFound } from "../../core/errors.ts";
import {
  addRecordUpdate,
  getClaim,
  getEvent,
  type WebhookEventRecord,
} from "../../kv/webhook_events.ts";
import { busyError, liveClaim } from "./claims.ts";
import { toView, type WebhookEventView } from "./view.ts";
import { closeOpsAlert } from "../ops_alerts.ts";
import { openAlertsForWebhookEvent } from "../../kv/ops_alerts.ts";
import { WEBHOOK_RETENTION_MS } from "./outcome.ts";
import { addEventJobsDeletion } from "./event_jobs.ts";
import { auditingRefusals, refused } from "./refusals.ts";
import type { AuditInput } from "../audit/mod.ts";
import type { ReplayParts } from "./replay.ts";

const iso = (ms: number) => new Date(ms).toISOString();

type DismissParts = Omit<ReplayParts, "processing" | "livemode"> & {
  lock: ReturnType<typeof createKeyedLock>;
};

export async function dismissEvent(
  parts: DismissParts,
  ctx: CallContext,
  id: string,
  note: string,
): Promise<WebhookEventView> {
  return await auditingRefusals(
    parts.audit,
    ctx,
    { action: "webhook.dismiss", id },
    () => dismissOnce(parts, ctx, id, note),
  );
}

function dismissOnce(
  parts: DismissParts,
  ctx: CallContext,
  id: string,
  note: string,
): Promise<WebhookEventView> {
  // one dismissal of an event at a time in this isolate; a replay or retry running holds its
  // claim (claims.ts), checked in the commit
  return parts.lock(`dismiss:${id}`, () =>
    parts.audit.commit(ctx, async (op) => {
      const entry = await getEvent(parts.kv, id);
      if (!entry.value) throw notFound("webhook event", id);
      const before = entry.value;
      const dismissed = before.status === "ignored" && before.ignored_reason === "dismissed"
        ? before.dismissed ?? null
        : null;
      if (dismissed?.by === ctx.actor.id && dismissed.note === note) {
        return { value: toView(before), audit: [] }; // this dismissal again: its answer
      }
      const held = await getClaim(parts.kv, id);
      const running = liveClaim(held, parts.clock.now());
      if (running) throw refused(busyError(id, running, ctx));
      op.check(held);
      if (before.status !== "failed" && before.status !== "dead") {
        const r = before.replayed;
        const by = dismissed && before.processed_at !== null
          ? `: it was dismissed ${byWhom(dismissed.by, iso(before.processed_at), ctx)}`
          : r?.result === "ok" && r.status === before.status && r.attempts === before.attempts
          ? `: it was replayed ${byWhom(r.by, iso(r.at), ctx)}`
          : "";
        throw refused(
          new AppError(
            "conflict",
            `webhook event ${id} is ${before.status}; only failed or dead events are dismissed${by}`,
          ),
        );
      }
      const now = parts.clock.now();
      const next: WebhookEventRecord = {
        ...before,
        status: "ignored",
        ignored_reason: "dismissed",
        detail: `ignored: dismissed by ${ctx.actor.id}: ${note}`,
        processed_at: now,
        dismissed: { by: ctx.actor.id, note },
        keep_until: now + WEBHOOK_RETENTION_MS,
      };
      addRecordUpdate(op, entry as Deno.KvEntry<WebhookEventRecord>, next);
      await addEventJobsDeletion(parts.kv, op, id); // its retries stop now, not when next due
      const audit: AuditInput[] = [{
        action: "webhook.dismiss",
        target: { type: "webhook_event", id },
        result: "ok",
        before: { status: before.status, attempts: before.attempts, last_error: before.last_error },
        after: { status: next.status, ignored_reason: "dismissed" },
        reason: note,
      }];
      const at = new Date(now).toISOString();
      for (const alert of await openAlertsForWebhookEvent(parts.kv, id, before.received_at)) {
        audit.push(closeOpsAlert(op, alert, ctx.actor.id, `dismissed: ${note}`, at).audit);
      }
      return { value: toView(next), audit };
    }));
}
