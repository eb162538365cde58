/**
 * What GET /metrics reports beyond the per-request figures recorded as they
 * happen: backlogs read from KV at scrape time (jobs, webhook failures and dead
 * letters, refunds awaiting reconciliation, open ops alerts, the Stripe budget's
 * level, the last cron runs). Scrapes read indexes only, bounded per index.
 */
import type { Metrics } from "../core/metrics.ts";
import type { Deps } from "./deps.ts";
import {
  countDeadJobs,
  countRefundsByStatus,
  countWebhookEventsByStatus,
  jobBacklog,
  lastCronRunsByOutcome,
  openOpsAlertsByKind,
  recordCronRun,
} from "../kv/metrics_counts.ts";
import type { TokenBucket } from "../kv/token_bucket.ts";
import { getIgnoredCounts } from "../kv/webhook_events.ts";
import { OPS_ALERT_KINDS } from "../kv/ops_alerts.ts";
import { KV_PROBE_MS } from "../kv/deadline.ts";
import { within } from "../core/deadline.ts";

export { type CronRun, lastCronRuns, lastCronRunsByOutcome } from "../kv/metrics_counts.ts";

/** Refund statuses that wait for Stripe or reconciliation. */
const RECONCILING = ["processing", "pending", "requires_action"] as const;
/** The ignore reasons counted in KV at intake (services/webhooks/ignore.ts). */
const IGNORED_COUNTED = ["livemode_mismatch"] as const;

/** The backlog's gauges: [name, help] by the name the collector uses. */
const BACKLOG_GAUGES = {
  jobs: ["payops_jobs_waiting", "Jobs in the job table by kind"],
  overdue: ["payops_jobs_overdue", "Jobs past their due time by kind"],
  deadJobs: ["payops_jobs_dead", "Jobs that ran out of attempts, by kind"],
  webhooks: [
    "payops_webhook_events",
    "Webhook events by status that need attention (failed: will be retried; dead: replay by hand)",
  ],
  reconcile: [
    "payops_refunds_reconciliation_backlog",
    "Refunds waiting for Stripe's outcome or reconciliation, by status",
  ],
  ignored: [
    "payops_webhook_events_ignored",
    "Webhook events acknowledged but not applied since the store began, by reason " +
    "(livemode_mismatch: a secret of the other mode is in STRIPE_WEBHOOK_SECRETS)",
  ],
  alerts: ["payops_ops_alerts_open", "Open ops alerts by kind"],
  bucketLevel: [
    "payops_stripe_budget_tokens",
    "Tokens in the shared Stripe call budget (burst = full)",
  ],
  cronLast: [
    "payops_cron_last_run_timestamp_seconds",
    "When each periodic task last finished well (ok) and last failed (error), from KV: " +
    "every isolate's runs",
  ],
} as const;

/**
 * Registers the backlog gauges; `knowJobKinds` gives the job kinds the service handles, so
 * each has its job gauges (0) from the first scrape, before any job of it was ever seen.
 */
export function registerBacklogMetrics(
  deps: Deps,
  metrics: Metrics,
): { knowJobKinds(kinds: Iterable<string>): void } {
  const { kv, clock } = deps;
  const g = Object.fromEntries(
    Object.entries(BACKLOG_GAUGES).map(([key, [name, help]]) => [key, metrics.gauge(name, help)]),
  ) as Record<keyof typeof BACKLOG_GAUGES, ReturnType<Metrics["gauge"]>>;
  const { jobs, overdue, deadJobs, webhooks, ignored, reconcile, alerts, bucketLevel, cronLast } =
    g;
  const bucket = (deps.stripe as { bucket?: TokenBucket }).bucket;
  const jobKinds = new Set<string>();
  const deadKinds = new Set<string>();

  const stale = metrics.gauge(
    "payops_metrics_kv_stale",
    "1 when this scrape's gauges read from KV were left out: the store did not answer within " +
      `${KV_PROBE_MS / 1000} s (README "Metrics"); 0 when they are current`,
  );
  const fromKv = Object.values(g);

  /** Every figure the gauges take from KV, read before any gauge is set. */
  async function read() {
    const [backlog, dead, failed, deadEvents, byKind, runs, ignoredBy, reconciling, level] =
      await Promise.all([
        jobBacklog(kv, clock.now()),
        countDeadJobs(kv),
        countWebhookEventsByStatus(kv, "failed"),
        countWebhookEventsByStatus(kv, "dead"),
        openOpsAlertsByKind(kv),
        lastCronRunsByOutcome(kv),
        getIgnoredCounts(kv),
        Promise.all(RECONCILING.map((status) => countRefundsByStatus(kv, status))),
        bucket ? bucket.peek().then((b) => b.tokens) : Promise.resolve(null),
      ]);
    return { backlog, dead, failed, deadEvents, byKind, runs, ignoredBy, reconciling, level };
  }

  metrics.onCollect(async () => {
    let figures: Awaited<ReturnType<typeof read>>;
    try {
      figures = await within(read(), KV_PROBE_MS, "metrics from KV");
    } catch (error) {
      // The store does not answer (or fails): a scrape still gets the process's own figures,
      // and none from KV rather than old ones as if current.
      for (const gauge of fromKv) gauge.reset();
      stale.set({}, 1);
      deps.log.warn("metrics: the gauges read from KV are left out of this scrape", { error });
      return;
    }
    stale.set({}, 0);
    const { backlog, dead, failed, deadEvents, byKind, runs, ignoredBy, reconciling, level } =
      figures;
    // Every job kind the service handles, and any other seen once, stays as a series (0 when
    // none are left), so a backlog after an outage is seen draining to 0 rather than
    // vanishing (README "Stripe outages").
    for (const kind of backlog.keys()) jobKinds.add(kind);
    for (const kind of jobKinds) {
      const row = backlog.get(kind);
      jobs.set({ kind }, row?.waiting ?? 0);
      overdue.set({ kind }, row?.overdue ?? 0);
    }
    for (const kind of dead.keys()) deadKinds.add(kind);
    for (const kind of deadKinds) deadJobs.set({ kind }, dead.get(kind) ?? 0);
    webhooks.set({ status: "failed" }, failed);
    webhooks.set({ status: "dead" }, deadEvents);
    ignored.reset();
    // every reason counted is a series from the start (0), so its first increase is seen
    for (const reason of IGNORED_COUNTED) ignored.set({ reason }, 0);
    for (const [reason, n] of Object.entries(ignoredBy)) ignored.set({ reason }, n);
    RECONCILING.forEach((status, i) => reconcile.set({ status }, reconciling[i]));
    const open = new Map(byKind);
    for (const kind of new Set([...OPS_ALERT_KINDS, ...open.keys()])) {
      alerts.set({ kind }, open.get(kind) ?? 0);
    }
    cronLast.reset();
    for (const run of runs) {
      cronLast.set({ task: run.task, outcome: run.ok ? "ok" : "error" }, run.finished_at / 1000);
    }
    if (level !== null) bucketLevel.set({}, level);
  });
  return {
    knowJobKinds(kinds) {
      for (const kind of kinds) {
        jobKinds.add(kind);
        deadKinds.add(kind);
      }
    },
  };
}

const CRON_RUNS = ["payops_cron_runs_total", "Periodic task runs by outcome"] as const;
const CRON_OUTCOMES = ["ok", "error"] as const;

/**
 * Makes each periodic task's runs a series at 0 for both outcomes before its first run
 * (main.ts, with every cron it registers), so the first run, or the first failure, is an
 * increase a scrape sees (README, "Metrics").
 */
export function knowCronTasks(metrics: Metrics, tasks: Iterable<string>): void {
  const runs = metrics.counter(...CRON_RUNS);
  for (const task of tasks) {
    for (const outcome of CRON_OUTCOMES) runs.inc({ task, outcome }, 0);
  }
}

/** Times one periodic task and records it (metrics here, the last run in KV for the doctor). */
export async function timedCronRun(
  deps: Pick<Deps, "kv" | "clock"> & { metrics?: Metrics },
  task: string,
  run: () => Promise<void>,
): Promise<void> {
  const started = deps.clock.now();
  let error: unknown = null;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  const finished = deps.clock.now();
  const outcome = error === null ? "ok" : "error";
  deps.metrics?.histogram("payops_cron_run_duration_seconds", "Periodic task run time")
    .observe({ task }, (finished - started) / 1000);
  deps.metrics?.counter(...CRON_RUNS).inc({ task, outcome });
  await recordCronRun(deps.kv, {
    task,
    started_at: started,
    finished_at: finished,
    ok: error === null,
    error: error === null ? null : error instanceof Error ? error.message : String(error),
  });
  if (error !== null) throw error;
}
