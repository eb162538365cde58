/**
 * Deadline reminders: a cron job raises an ops alert (`dispute_due_soon`) at
 * 72 h and at 24 h before a dispute's `evidence_due_by`, once each, for
 * disputes nothing was submitted for, and marks the ones past their deadline
 * overdue. The reminder ids sit on the dispute, so each fires once however
 * often the job runs (every change is a checked commit), and they close by
 * themselves when the dispute is submitted or closed (services/disputes/ingest.ts).
 */
import type { Deps } from "../deps.ts";
import type { AuditInput, AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import { systemContext } from "../../domain/actor.ts";
import { REMINDER_ACTOR } from "../../domain/system_actors.ts";
import { type DisputeRecord, withDisputeHistory } from "../../domain/dispute.ts";
import { addUpdateDispute, getDispute, listDisputeIdsDueBefore } from "../../kv/disputes.ts";
import { getOpsAlert, type OpsAlert } from "../../kv/ops_alerts.ts";
import { closeOpsAlert, raiseOpsAlert } from "../ops_alerts.ts";
import { formatMoney } from "../../domain/money.ts";

const HOUR = 3600_000;
/** Tightest last: a dispute first seen 20 h before its deadline gets the 24 h reminder only. */
export const REMINDER_THRESHOLDS: { name: string; before_ms: number }[] = [
  { name: "72h", before_ms: 72 * HOUR },
  { name: "24h", before_ms: 24 * HOUR },
];

/** Closes the dispute's open reminders inside the caller's commit; their audit entries. */
export async function closeReminders(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  r: DisputeRecord,
  note: string,
  at: string,
): Promise<AuditInput[]> {
  const out: AuditInput[] = [];
  for (const id of new Set(Object.values(r.reminders))) {
    const entry = await getOpsAlert(kv, id);
    if (entry.value?.status !== "open") continue;
    out.push(closeOpsAlert(op, entry as Deno.KvEntry<OpsAlert>, REMINDER_ACTOR, note, at).audit);
  }
  return out;
}

export interface ReminderSummary {
  reminded: number;
  overdue: number;
}

/** Still waiting for evidence from us: no submission in this round. */
function awaitingEvidence(r: DisputeRecord): boolean {
  return r.phase === "needs_response" || r.phase === "drafting";
}

/** Whether `remindOne` would change anything now (it checks again in its commit). */
function needsWork(r: DisputeRecord | null, now: number): boolean {
  if (!r || !awaitingEvidence(r) || !r.evidence_due_by) return false;
  const left = r.evidence_due_by * 1000 - now;
  if (left <= 0 || r.past_due) return !r.overdue;
  const tightest = REMINDER_THRESHOLDS.filter((t) => left <= t.before_ms).at(-1);
  return !!tightest && !r.reminders[tightest.name];
}

type Done = { value: "reminded" | "overdue" | null; audit: AuditInput[] };

/** Marks a dispute past its deadline overdue inside `op`. */
function markOverdue(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<DisputeRecord>,
  at: string,
): Done {
  const r = entry.value;
  const next = {
    ...r,
    overdue: true,
    updated_at: at,
    history: withDisputeHistory(r, {
      at,
      by: REMINDER_ACTOR,
      action: "overdue",
      changes: { overdue: true },
    }),
  };
  addUpdateDispute(op, entry, next);
  return {
    value: "overdue",
    audit: [{
      action: "dispute.overdue",
      target: { type: "dispute", id: r.id },
      result: "ok",
      after: { overdue: true, evidence_due_by: r.evidence_due_by },
    }],
  };
}

/**
 * Raises the tightest threshold crossed (`left` ms before the deadline) inside
 * `op`, once: the alert id is noted for every threshold crossed.
 */
function addReminder(
  op: Deno.AtomicOperation,
  alerts: { newId: IdFactory; log: Deps["log"] },
  entry: Deno.KvEntry<DisputeRecord>,
  { left, at }: { left: number; at: string },
): Done {
  const r = entry.value;
  const id = r.id;
  const crossed = REMINDER_THRESHOLDS.filter((t) => left <= t.before_ms);
  const tightest = crossed.at(-1);
  if (!tightest || r.reminders[tightest.name]) return { value: null, audit: [] };
  const hours = Math.max(1, Math.round(left / HOUR));
  const raised = raiseOpsAlert(
    op,
    alerts,
    {
      kind: "dispute_due_soon",
      detail: `dispute ${id} (${r.reason}, ${formatMoney(r.amount, r.currency)}) is due in ` +
        `about ${hours} h ` +
        `(${new Date(r.evidence_due_by! * 1000).toISOString()}) and no evidence was submitted`,
      dispute_id: id,
      transaction_id: r.transaction_id,
      amount: r.amount,
      currency: r.currency,
    },
    at,
    { type: "dispute", id },
  );
  const alertId = (raised.after as { alert_id: string }).alert_id;
  const reminders = { ...r.reminders };
  for (const t of crossed) reminders[t.name] ??= alertId;
  const next: DisputeRecord = {
    ...r,
    reminders,
    updated_at: at,
    history: withDisputeHistory(r, {
      at,
      by: REMINDER_ACTOR,
      action: "reminder",
      changes: { reminder: tightest.name, alert_id: alertId },
    }),
  };
  addUpdateDispute(op, entry, next);
  return { value: "reminded", audit: [raised] };
}

export function createDisputeReminders(
  deps: Deps,
  svc: { audit: AuditService; newId: IdFactory },
) {
  const { kv, clock, log } = deps;
  const ctx = systemContext(REMINDER_ACTOR);

  /** One dispute: a reminder or the overdue mark, when due; returns what it did. */
  function remindOne(id: string): Promise<"reminded" | "overdue" | null> {
    return svc.audit.commit(ctx, async (op) => {
      const entry = await getDispute(kv, id);
      const r = entry.value;
      if (!r || !awaitingEvidence(r) || !r.evidence_due_by) return { value: null, audit: [] };
      const now = clock.now();
      const at = new Date(now).toISOString();
      const left = r.evidence_due_by * 1000 - now;
      // Stripe's past_due: the deadline has passed, whatever our clock reads (README Deadlines)
      if (left <= 0 || r.past_due) {
        if (r.overdue) return { value: null, audit: [] };
        return markOverdue(op, entry as Deno.KvEntry<DisputeRecord>, at);
      }
      return addReminder(op, { newId: svc.newId, log }, entry as Deno.KvEntry<DisputeRecord>, {
        left,
        at,
      });
    });
  }

  /** The cron job: every dispute due within 72 h (or past due) that still waits for evidence. */
  async function run(): Promise<ReminderSummary> {
    const horizon = clock.now() + REMINDER_THRESHOLDS[0].before_ms;
    const summary: ReminderSummary = { reminded: 0, overdue: 0 };
    for (const id of await listDisputeIdsDueBefore(kv, horizon + 1)) {
      // most are already reminded (or marked overdue): skip them without a commit
      if (!needsWork((await getDispute(kv, id)).value, clock.now())) continue;
      try {
        const did = await remindOne(id);
        if (did) summary[did]++;
      } catch (error) {
        log.warn("dispute reminder failed; the next run tries again", { dispute_id: id, error });
      }
    }
    if (summary.reminded || summary.overdue) log.info("dispute reminders", { ...summary });
    return summary;
  }

  return { run, remindOne };
}
