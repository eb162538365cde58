/**
 * Background work: the job table's handlers and the periodic tasks, as plain
 * functions. main.ts registers them with `Deno.cron` (and runs the job table
 * in-process locally); tests call them directly.
 */
import { reviveDeadJobs, runDueJobs, type RunJobsResult } from "../kv/jobs.ts";
import { CHECKPOINT_TASK, checkpointAuditHead } from "./audit/mod.ts";
import { jobHandlers, type Services } from "./mod.ts";
import { reconcileRefunds, REFUND_RECONCILE_JOB } from "./refunds/mod.ts";
import {
  DISPUTE_CLOSE_RECONCILE_JOB,
  DISPUTE_SUBMIT_RECONCILE_JOB,
  runDisputeReminders,
} from "./disputes/mod.ts";
import { AUTHORIZATION_RECONCILE_JOB, RETRY_RECONCILE_JOB } from "./retries/mod.ts";
import { runFraudLive, runFraudSweep } from "./fraud/mod.ts";
import { AppError } from "../core/errors.ts";
import { WEBHOOK_PROCESS_JOB } from "./webhooks/outcome.ts";

/** One pass over the job table: everything due now (new ops alerts get their delivery jobs first). */
export async function runJobs(services: Services): Promise<RunJobsResult> {
  const { kv, clock, log } = services.deps;
  await services.alertDelivery.enqueue();
  return await runDueJobs(kv, clock, jobHandlers(services), {
    onError: (job, error, next) => {
      const fields = {
        job_id: job.id,
        kind: job.kind,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        error,
      };
      if (next.retry_at !== null) {
        log.warn("job failed; it runs again", {
          ...fields,
          retry_at: new Date(next.retry_at).toISOString(),
        });
      } else log.error("job dead: out of attempts", { ...fields, next: deadJobAdvice(job.kind) });
    },
  });
}

/** What a person does about a job that ran out of attempts, by kind (README, Stripe outages). */
function deadJobAdvice(kind: string): string {
  const counted = `counted in payops_jobs_dead{kind="${kind}"}`;
  if (RECONCILE_JOB_KINDS.has(kind)) {
    return `${counted}; the reconcile-refunds cron (every 5 minutes) puts it back, and its ` +
      "action stays processing until Stripe answers: watch the Stripe outage, nothing to do";
  }
  if (kind === WEBHOOK_PROCESS_JOB) {
    return `${counted}; its event is dead with an ops alert: fix the cause (the error), ` +
      "then replay it, or dismiss it if it will never apply (README, Stripe webhooks)";
  }
  return `${counted}; nothing runs it again: fix the cause named in the error (for ` +
    "ops_alert.deliver, ALERT_WEBHOOK_URL; the alert itself stays listed under " +
    "GET /api/admin/payments/ops-alerts)";
}

/**
 * The jobs that learn Stripe's outcome of an action sent with an unknown one: they end by
 * themselves once Stripe answers, so one whose attempts ran out during a long outage is put
 * back by the reconciliation cron rather than left dead with its action `processing`
 * (README "Stripe outages"). Refunds and retry attempts have the cron's own sweep besides.
 */
const RECONCILE_JOB_KINDS: ReadonlySet<string> = new Set([
  REFUND_RECONCILE_JOB,
  RETRY_RECONCILE_JOB,
  AUTHORIZATION_RECONCILE_JOB,
  DISPUTE_SUBMIT_RECONCILE_JOB,
  DISPUTE_CLOSE_RECONCILE_JOB,
]);

async function reviveReconcileJobs(services: Services): Promise<void> {
  const { kv, clock, log } = services.deps;
  for (const job of await reviveDeadJobs(kv, clock, RECONCILE_JOB_KINDS)) {
    log.warn("reconciliation job revived after running out of attempts", {
      job_id: job.id,
      kind: job.kind,
      attempts: job.attempts,
      last_error: job.last_error,
    });
  }
}

/** The periodic tasks main.ts registers with `Deno.cron`, by name. */
export const PERIODIC_TASKS = {
  "run-jobs": "* * * * *",
  /** a verify reads its last good run back (README, "Audit checkpoints") */
  [CHECKPOINT_TASK]: "*/10 * * * *",
  "webhook-retention": "17 3 * * *",
  "reconcile-refunds": "*/5 * * * *",
  "dispute-reminders": "*/15 * * * *",
  "authorization-expiry": "23 * * * *",
  /** the fraud rules on what payments changed since the last pass (also every few s locally) */
  "fraud-live": "* * * * *",
} as const;

/** The sweep's cron, on its own schedule (`FRAUD_SWEEP_SCHEDULE`). */
export const FRAUD_SWEEP_TASK = "fraud-sweep";

export type PeriodicTask = keyof typeof PERIODIC_TASKS | typeof FRAUD_SWEEP_TASK;

/** Every cron main.ts registers, by name, with its schedule: the fixed ones and the sweep. */
export function cronSchedules(
  config: { fraudSweepSchedule: string },
): Record<PeriodicTask, string> {
  return { ...PERIODIC_TASKS, [FRAUD_SWEEP_TASK]: config.fraudSweepSchedule };
}

export async function runPeriodicTask(services: Services, task: PeriodicTask): Promise<void> {
  switch (task) {
    case "run-jobs":
      await runJobs(services);
      return;
    case CHECKPOINT_TASK:
      await checkpointAuditHead(services.deps);
      return;
    case "reconcile-refunds":
      await reviveReconcileJobs(services);
      await reconcileRefunds(services);
      await services.retries.reconcile(); // retry attempts: the same safety net
      return;
    case "authorization-expiry":
      await services.retries.sweepExpiringAuthorizations();
      return;
    case "dispute-reminders":
      await runDisputeReminders(services);
      return;
    case "webhook-retention":
      await services.webhooks.sweepExpired();
      return;
    case "fraud-live":
      await runFraudLive(services);
      return;
    case FRAUD_SWEEP_TASK:
      try {
        await runFraudSweep(services);
      } catch (error) {
        // one sweep at a time: one an operator started (POST /fraud/sweeps) is doing this run's work
        if (!(error instanceof AppError && error.code === "conflict")) throw error;
        services.deps.log.info("fraud sweep cron skipped: a sweep is running", {
          detail: error.message,
        });
      }
      return;
  }
}
