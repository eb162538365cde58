/**
 * Ops alerts for the people on duty: what the refund flow raises
 * (services/refunds/alerts.ts `addRefundAlert`), dead-lettered webhook
 * events (services/webhooks/processing.ts) and admins disabled or demoted, or
 * made, re-enabled or promoted by the break-glass CLI, and accounts their
 * person enrolled re-enabled (services/identity/account_change.ts,
 * reactivate.ts), listed and read here, and closed by
 * an operator with a note saying what was done. Closing is
 * audited in the same commit; an alert is closed once (a second close is a
 * conflict, so two operators never both think they handled it), except that
 * the same operator sending the same close again (a second click, a retry)
 * gets the closed alert back, with nothing written. Nobody closes one about
 * their own account or act, or a linked account's (ops_alert_close_rule.ts).
 */
import type { Deps } from "./deps.ts";
import { type AuditInput, type AuditService } from "./audit/mod.ts";
import type { Logger } from "../core/log.ts";
import type { IdFactory } from "../core/ids.ts";
import { byWhom, type CallContext } from "../domain/actor.ts";
import { AppError, notFound } from "../core/errors.ts";
import { closeRefusal } from "./ops_alert_close_rule.ts";
import type { CursorSealer, Page } from "../kv/pagination.ts";
import {
  addOpsAlert,
  addOpsAlertUpdate,
  getOpsAlert,
  listOpsAlerts,
  type OpsAlert,
  type OpsAlertKind,
  type OpsAlertStatus,
} from "../kv/ops_alerts.ts";

export { OPS_ALERT_KINDS, OPS_ALERT_STATUSES } from "../kv/ops_alerts.ts";
export type { OpsAlert, OpsAlertStatus } from "../kv/ops_alerts.ts";

/**
 * Alerts logged as warnings: a deadline ahead, an admin's access taken away or
 * given by the break-glass CLI (someone meant it; whether rightly is for a
 * person to check). The rest are errors.
 */
const WARNING_KINDS: ReadonlySet<OpsAlert["kind"]> = new Set([
  "dispute_due_soon",
  "authorization_expiring",
  "admin_disabled",
  "admin_demoted",
  "admin_created",
  "admin_enabled",
  "admin_promoted",
  "admin_credentials_reset",
]);

/** What an alert is about; the rest of the record is filled in by `raiseOpsAlert`. */
export type NewOpsAlert =
  & Pick<OpsAlert, "kind" | "detail">
  & Partial<
    Pick<
      OpsAlert,
      | "refund_id"
      | "transaction_id"
      | "stripe_refund"
      | "webhook_event_id"
      | "amount"
      | "currency"
      | "dispute_id"
      | "admin_id"
      | "acted_by"
    >
  >;

/**
 * Raises an ops alert inside an audited commit: the KV record, a log line
 * (an error, or a warning for a deadline reminder), and the audit entry for the caller to append in the same commit
 * (`target` is what it is about). Logged from inside a build, so a lost race
 * may log it twice, never not at all.
 */
export function raiseOpsAlert(
  op: Deno.AtomicOperation,
  svc: { newId: IdFactory; log: Logger },
  about: NewOpsAlert,
  at: string,
  target: { type: string; id: string },
): AuditInput {
  const alert: OpsAlert = {
    id: svc.newId("ops"),
    refund_id: null,
    transaction_id: null,
    stripe_refund: null,
    webhook_event_id: null,
    amount: null,
    currency: null,
    ...about,
    status: "open",
    created_at: at,
    closed_at: null,
    closed_by: null,
    close_note: null,
  };
  addOpsAlert(op, alert);
  // money that moved wrongly (or may have) is an error; a deadline coming up is a warning
  const level = WARNING_KINDS.has(alert.kind) ? "warn" : "error";
  svc.log[level](`ops alert: ${alert.kind}`, { alert_id: alert.id, target, ...about });
  return {
    action: "ops_alert.raise",
    target,
    result: "ok",
    after: { alert_id: alert.id, kind: alert.kind, amount: alert.amount, currency: alert.currency },
    reason: alert.detail,
  };
}

/**
 * Closes the alert read as `entry` inside the caller's commit (the commit
 * fails if it changed since) and returns the audit entry for that commit.
 */
export function closeOpsAlert(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<OpsAlert>,
  by: string,
  note: string,
  at: string,
): { closed: OpsAlert; audit: AuditInput } {
  const alert = entry.value;
  const closed: OpsAlert = {
    ...alert,
    status: "closed",
    closed_at: at,
    closed_by: by,
    close_note: note,
  };
  addOpsAlertUpdate(op, entry, closed);
  return {
    closed,
    audit: {
      action: "ops_alert.close",
      target: { type: "ops_alert", id: alert.id },
      result: "ok",
      before: { status: alert.status },
      after: { status: "closed", kind: alert.kind, refund_id: alert.refund_id },
      reason: note,
    },
  };
}

export interface OpsAlertView extends OpsAlert {
  webhook_event_id: string | null;
  dispute_id: string | null;
  admin_id: string | null;
  acted_by: string[];
  closed_at: string | null;
  closed_by: string | null;
  close_note: string | null;
}

/** Fields added after an alert was raised are shown as null. */
function toView(a: OpsAlert): OpsAlertView {
  return {
    ...a,
    webhook_event_id: a.webhook_event_id ?? null,
    dispute_id: a.dispute_id ?? null,
    admin_id: a.admin_id ?? null,
    acted_by: a.acted_by ?? [],
    closed_at: a.closed_at ?? null,
    closed_by: a.closed_by ?? null,
    close_note: a.close_note ?? null,
  };
}

export function createOpsAlertService(
  deps: Deps,
  svc: { audit: AuditService; cursors: CursorSealer },
) {
  const { kv, clock } = deps;

  async function list(
    q: { status?: OpsAlertStatus; kind?: OpsAlertKind; limit: number; cursor?: string },
  ): Promise<Page<OpsAlertView>> {
    const page = await listOpsAlerts(kv, svc.cursors, { status: q.status, kind: q.kind }, q);
    return { data: page.data.map(toView), next_cursor: page.next_cursor };
  }

  async function get(id: string): Promise<OpsAlertView> {
    const { value } = await getOpsAlert(kv, id);
    if (!value) throw notFound("ops alert", id);
    return toView(value);
  }

  async function close(ctx: CallContext, id: string, note: string): Promise<OpsAlertView> {
    const outcome = await svc.audit.commit<OpsAlert | AppError>(ctx, async (op) => {
      const entry = await getOpsAlert(kv, id);
      if (!entry.value) throw notFound("ops alert", id);
      const alert = entry.value;
      if (
        alert.status === "closed" && alert.closed_by === ctx.actor.id && alert.close_note === note
      ) {
        return { value: alert, audit: [] }; // this close again: its answer, nothing written
      }
      // not about your own account nor your own act, nor a linked account's (README, "Ops alerts")
      const refusal = await closeRefusal(kv, alert, ctx.actor.id);
      if (refusal) {
        return {
          value: refusal.error,
          audit: [{
            action: "ops_alert.close",
            target: { type: "ops_alert", id: alert.id },
            result: "denied",
            reason: refusal.reason,
            after: { kind: alert.kind, admin_id: alert.admin_id ?? null },
          }],
        };
      }
      if (alert.status === "closed") {
        const by = alert.closed_by
          ? byWhom(alert.closed_by, alert.closed_at ?? null, ctx)
          : `by the service at ${alert.closed_at ?? "an earlier time"}`;
        throw new AppError("conflict", `ops alert ${id} was closed ${by}`);
      }
      const done = closeOpsAlert(
        op,
        entry as Deno.KvEntry<OpsAlert>,
        ctx.actor.id,
        note,
        new Date(clock.now()).toISOString(),
      );
      return { value: done.closed, audit: [done.audit] };
    });
    if (outcome instanceof AppError) throw outcome; // audited denied, nothing else written
    return toView(outcome);
  }

  return { list, get, close };
}

export type OpsAlertService = ReturnType<typeof createOpsAlertService>;
