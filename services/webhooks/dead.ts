/**
 * A dead event: the one that used up its processing attempts (processing.ts)
 * raises a `webhook_event_dead` ops alert, audited, in the commit that makes
 * it dead; the account's picture misses it until it is processed.
 *
 * An attempt that outlived those retries and then processed it (a Stripe
 * read-back held longer than the retries took, say) brings it back: it needs
 * no replay, so what its death raised goes (README, "Ops alerts"). Its open
 * alert closes, audited as the job's, and its dead-lettered retry is removed,
 * as a replay that processes it does (replay.ts). That is a commit after the
 * one that settled the record: if the process dies between the two, the
 * alert stays open for a person, as before.
 */
import type { AuditInput, AuditService } from "../audit/mod.ts";
import { systemContext } from "../../domain/actor.ts";
import { WEBHOOK_PROCESS_ACTOR } from "../../domain/system_actors.ts";
import { openAlertsForWebhookEvent } from "../../kv/ops_alerts.ts";
import type { WebhookEventRecord } from "../../kv/webhook_events.ts";
import type { Clock } from "../../core/clock.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { Logger } from "../../core/log.ts";
import { closeOpsAlert, raiseOpsAlert } from "../ops_alerts.ts";
import { addEventJobsDeletion } from "./event_jobs.ts";

/** The alert, in `op`, for `record` dying on `error` after its last attempt; its audit entry. */
export function raiseDeadEventAlert(
  op: Deno.AtomicOperation,
  deps: { newId: IdFactory; log: Logger; clock: Clock },
  record: WebhookEventRecord,
  error: string,
): AuditInput {
  return raiseOpsAlert(
    op,
    { newId: deps.newId, log: deps.log },
    {
      kind: "webhook_event_dead",
      webhook_event_id: record.id,
      detail: `${record.type} ${record.id} failed ${record.attempts + 1} processing attempts ` +
        `(last: ${error.slice(0, 300)}); fix the cause, then replay it`,
    },
    new Date(deps.clock.now()).toISOString(),
    { type: "webhook_event", id: record.id },
  );
}

/** Whether an attempt that found `before` and left `after` brought a dead event back. */
export function revivedFromDead(before: WebhookEventRecord, after: WebhookEventRecord): boolean {
  return before.status === "dead" && (after.status === "processed" || after.status === "ignored");
}

/** Closes the revived event's open dead alerts and removes its dead-lettered retry. */
export async function closeWhatDeathRaised(
  deps: { kv: Deno.Kv; clock: Clock; audit: AuditService },
  after: WebhookEventRecord,
): Promise<void> {
  const { kv, clock, audit } = deps;
  await audit.commit(systemContext(WEBHOOK_PROCESS_ACTOR), async (op) => {
    await addEventJobsDeletion(kv, op, after.id);
    const note = `${after.status} by an attempt still running when it was declared dead ` +
      `(attempt ${after.attempts}): nothing to replay`;
    const at = new Date(clock.now()).toISOString();
    const entries: AuditInput[] = [];
    for (const alert of await openAlertsForWebhookEvent(kv, after.id, after.received_at)) {
      entries.push(closeOpsAlert(op, alert, WEBHOOK_PROCESS_ACTOR, note, at).audit);
    }
    return { value: null, audit: entries };
  });
}
