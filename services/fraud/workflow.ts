/**
 * The analysts' workflow: list and read alerts, move them through
 * `open -> investigating -> resolved_fraud | resolved_legitimate | escalated`
 * (and `escalated -> investigating`), assign them, snooze a rule for a
 * customer (snoozes.ts), and ask for refunds of an alert's payments through
 * the refunds path. Every change is audited in its commit.
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer } from "../../kv/pagination.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound, validationFailed } from "../../core/errors.ts";
import {
  ALERT_MAX_HISTORY,
  ALERT_TRANSITIONS,
  type AlertStatus,
  type FraudAlert,
  isClosedStatus,
} from "../../domain/fraud.ts";
import {
  addAlertClosed,
  alertIdsOfTransaction,
  alertsByIds,
  alertsNewestFirst,
  fraudKeys as keys,
  getAlert,
} from "../../kv/fraud.ts";
import { getAdmin } from "../../kv/admins.ts";
import { assigneeRefusal } from "../../domain/admin.ts";
import { bindParts } from "../../core/bind.ts";
import { createSnooze, deleteSnooze, listSnoozes } from "./snoozes.ts";
import { refundAlert, type RefundPort } from "./alert_refunds.ts";
import { auditRefusal } from "./denied.ts";
import { alertPreconditionError } from "./alert_precondition.ts";

export type { RefundPort } from "./alert_refunds.ts";

export interface AlertFilters {
  status?: AlertStatus;
  severity?: string;
  customer?: string;
  rule?: string;
  assignee?: string;
}

const SCAN_BUDGET = 2_000;

function matches(a: FraudAlert, f: AlertFilters): boolean {
  return (!f.status || a.status === f.status) && (!f.severity || a.severity === f.severity) &&
    (!f.customer || a.subject === f.customer || a.customer === f.customer ||
      a.customers.includes(f.customer)) &&
    (!f.rule || a.rule === f.rule) && (!f.assignee || a.assignee === f.assignee);
}

/**
 * Newest first; a filter scans at most `SCAN_BUDGET` alerts a page. The
 * cursor resumes right after the last alert looked at: the last one returned
 * on a full page, the last one scanned when the budget ran out.
 */
async function listAlerts(p: WorkflowParts, f: AlertFilters & { limit: number; cursor?: string }) {
  const { kv, svc } = p;
  const data: FraudAlert[] = [];
  let scanned = 0;
  const scope = "fraud_alerts";
  const from = f.cursor ? await svc.cursors.unseal(scope, f.cursor) : undefined;
  for await (const page of alertsNewestFirst(kv, from)) {
    for (const [i, { alert, cursor }] of page.alerts.entries()) {
      if (matches(alert, f)) data.push(alert);
      scanned++;
      if (data.length < f.limit && scanned < SCAN_BUDGET) continue;
      const end = page.last && i === page.alerts.length - 1;
      return { data, next_cursor: end ? null : await svc.cursors.seal(scope, cursor) };
    }
  }
  return { data, next_cursor: null };
}

async function getAlertOrFail(p: WorkflowParts, id: string): Promise<FraudAlert> {
  const { kv } = p;
  const { value } = await getAlert(kv, id);
  if (!value) throw notFound("fraud alert", id);
  return value;
}

async function alertsOfTransaction(p: WorkflowParts, txnId: string): Promise<FraudAlert[]> {
  const { kv } = p;
  return await alertsByIds(kv, await alertIdsOfTransaction(kv, txnId));
}

/** An alert's change as asked: the moves, and the alert it was made from (`If-Match`). */
interface AlertChange {
  status?: AlertStatus;
  assignee?: string | null;
  note?: string;
  /** the `If-Match` sent: the change is made only over the alert with that tag */
  ifMatch?: string;
}

/**
 * Moves an alert on or assigns it. Resolving it `resolved_legitimate` voids
 * the refunds asked for through it still waiting for a second person
 * (README "Fraud detection": workflow), named in `voided_refunds`; refused
 * (409, nothing written) while one of them is the resolver's own or a linked
 * account's.
 */
async function updateAlert(
  p: WorkflowParts,
  ctx: CallContext,
  id: string,
  change: AlertChange,
): Promise<FraudAlert & { voided_refunds: string[] }> {
  const asked = { status: change.status, assignee: change.assignee };
  const after = await auditRefusal(
    p.svc.audit,
    ctx,
    { action: "fraud_alert.update", target: { type: "fraud_alert", id }, after: asked },
    () => commitUpdate(p, ctx, id, change),
  );
  const voided = change.status === "resolved_legitimate"
    ? await p.svc.refunds.voidForFraudAlert(ctx, after, after.resolution_note ?? "")
    : [];
  return { ...after, voided_refunds: voided };
}

/** The assignee's record, when it is an active account that works alerts (else 422). */
async function checkAssignee(kv: Deno.Kv, id: string) {
  const entry = await getAdmin(kv, id);
  const refusal = assigneeRefusal(entry.value, id, "fraud.triage", ALERT_WORK);
  if (refusal) {
    throw validationFailed([{
      path: "body.assignee",
      message: `${refusal}: assign the alert to an active analyst, operator or admin (adm_…), ` +
        "or null",
    }]);
  }
  return entry;
}

const ALERT_WORK = "work fraud alerts (analyst or above)";

async function commitUpdate(
  p: WorkflowParts,
  ctx: CallContext,
  id: string,
  change: AlertChange,
): Promise<FraudAlert> {
  const { kv, svc, iso } = p;
  const note = change.note?.trim() || null;
  if (change.status && isClosedStatus(change.status) && !note) {
    throw validationFailed([{
      path: "body.note",
      message: `a note is required to resolve an alert: say why it is ${change.status}`,
    }]);
  }
  return await svc.audit.commit(ctx, async (op) => {
    // checked in the commit: a disable or role change landing meanwhile makes it run again
    if (change.assignee) op.check(await checkAssignee(kv, change.assignee));
    const entry = await getAlert(kv, id);
    if (!entry.value) throw notFound("fraud alert", id);
    const before = entry.value;
    const to = change.status ?? before.status;
    if (change.status && sameMoveAgain(before, ctx.actor.id, change, note)) {
      return { value: before, audit: [] }; // a second click: its answer, nothing written
    }
    // an assignment it already has (sent again, by whoever) changes nothing: nothing written,
    // its note neither (a note goes with a change, README "Fraud detection": workflow)
    if (!change.status && change.assignee === before.assignee) {
      return { value: before, audit: [] };
    }
    // compared with the alert this commit checks: a change landing meanwhile runs it again
    const stale = alertPreconditionError(before, change.ifMatch, ctx);
    if (stale) throw stale;
    if (change.status && !ALERT_TRANSITIONS[before.status].includes(change.status)) {
      const allowed = ALERT_TRANSITIONS[before.status];
      throw new AppError(
        "conflict",
        `alert ${id} is ${before.status}: it can move to ${
          allowed.length ? allowed.join(" or ") : "nothing (it is resolved)"
        }, not ${change.status}`,
      );
    }
    if (!change.status && isClosedStatus(before.status)) {
      throw new AppError("conflict", `alert ${id} is ${before.status}; it cannot change`);
    }
    // resolving it legitimate rejects its refunds awaiting approval: never by one who may not
    // decide them, their requester or an account linked to them (README, "Two-person rules");
    // a refund asked meanwhile rewrites the alert, so this commit runs again and sees it
    if (to === "resolved_legitimate" && before.status !== to) {
      const refused = await svc.refunds.fraudAlertResolutionRefusal(ctx, before);
      if (refused) throw refused;
    }
    const after: FraudAlert = {
      ...before,
      status: to,
      assignee: change.assignee !== undefined ? change.assignee : before.assignee,
      resolution_note: isClosedStatus(to) ? note : before.resolution_note,
      updated_at: iso(),
      history: [...before.history, {
        at: iso(),
        by: ctx.actor.id,
        from: before.status,
        to,
        assignee: change.assignee !== undefined ? change.assignee : before.assignee,
        note,
      }].slice(-ALERT_MAX_HISTORY),
    };
    op.check(entry);
    op.set(keys.fraudAlert(id), after);
    if (isClosedStatus(to)) addAlertClosed(op, after, p.clock.now());
    return {
      value: after,
      audit: [{
        action: "fraud_alert.update",
        target: { type: "fraud_alert", id },
        result: "ok",
        before: { status: before.status, assignee: before.assignee },
        after: { status: to, assignee: after.assignee },
        reason: note,
      }],
    };
  });
}

/**
 * Whether `change` is the move that brought the alert where it is, by the same
 * person, sent again (a second click, a retry): same status, assignee and note.
 */
function sameMoveAgain(
  alert: FraudAlert,
  actor: string,
  change: { status?: AlertStatus; assignee?: string | null },
  note: string | null,
): boolean {
  const last = alert.history.at(-1);
  return last !== undefined && last.by === actor && last.to === change.status &&
    last.from !== last.to && alert.status === change.status &&
    (change.assignee === undefined || change.assignee === alert.assignee) &&
    (last.note ?? null) === note;
}

/** What the analysts' workflow works with. */
interface WorkflowParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  svc: WorkflowServices;
  iso: () => string;
}

type WorkflowServices = {
  audit: AuditService;
  newId: IdFactory;
  refunds: RefundPort;
  cursors: CursorSealer;
};

export function createWorkflow(
  deps: Deps,
  svc: WorkflowServices,
) {
  const { kv, clock } = deps;
  const iso = () => new Date(clock.now()).toISOString();
  const p: WorkflowParts = { kv, clock, svc, iso };

  return {
    listAlerts: bindParts(p, listAlerts),
    getAlert: bindParts(p, getAlertOrFail),
    alertsOfTransaction: bindParts(p, alertsOfTransaction),
    updateAlert: bindParts(p, updateAlert),
    createSnooze: bindParts(p, createSnooze),
    deleteSnooze: bindParts(p, deleteSnooze),
    listSnoozes: bindParts(p, listSnoozes),
    refundAlert: bindParts(p, refundAlert),
  };
}
