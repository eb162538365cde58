/**
 * Counts for the metrics scrape: backlogs read from the indexes, bounded so a
 * scrape stays cheap however large a backlog grows (the bound is reported as is).
 */
import { keys } from "./keys.ts";
import type { Job } from "./jobs.ts";

/** Counted up to this many rows per index; a larger backlog shows as this number. */
export const COUNT_LIMIT = 10_000;

async function countPrefix(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix }, { limit: COUNT_LIMIT, batchSize: 500 })) n++;
  return n;
}

export function countWebhookEventsByStatus(kv: Deno.Kv, status: string): Promise<number> {
  return countPrefix(kv, keys.webhookEventsByStatusPrefix(status));
}

export function countRefundsByStatus(kv: Deno.Kv, status: string): Promise<number> {
  return countPrefix(kv, keys.refundsByStatusPrefix(status));
}

/** Dead-lettered jobs by kind. */
export async function countDeadJobs(kv: Deno.Kv): Promise<Map<string, number>> {
  const byKind = new Map<string, number>();
  for await (
    const entry of kv.list<Job>({ prefix: keys.deadJobsPrefix() }, { limit: COUNT_LIMIT })
  ) {
    byKind.set(entry.value.kind, (byKind.get(entry.value.kind) ?? 0) + 1);
  }
  return byKind;
}

/** Jobs waiting by kind, and how many of them are past due at `now`. */
export async function jobBacklog(
  kv: Deno.Kv,
  now: number,
): Promise<Map<string, { waiting: number; overdue: number }>> {
  const byKind = new Map<string, { waiting: number; overdue: number }>();
  for await (
    const entry of kv.list<Job>({ prefix: keys.jobsPrefix() }, { limit: COUNT_LIMIT })
  ) {
    const job = entry.value;
    const row = byKind.get(job.kind) ?? { waiting: 0, overdue: 0 };
    row.waiting++;
    if (job.due_at <= now) row.overdue++;
    byKind.set(job.kind, row);
  }
  return byKind;
}

/** One periodic task's last run, as main.ts's cron wrapper records it. */
export interface CronRun {
  task: string;
  started_at: number;
  finished_at: number;
  ok: boolean;
  error: string | null;
}

/** The task's last run, and its last run of that outcome (a failure keeps the last good run). */
export async function recordCronRun(kv: Deno.Kv, run: CronRun): Promise<void> {
  await kv.atomic()
    .set(keys.cronRun(run.task), run)
    .set(keys.cronRunByOutcome(run.task, run.ok ? "ok" : "error"), run)
    .commit();
}

/**
 * Each task's last run of each outcome: the last good one and the last failed one. A store
 * written before these were kept has only the last run, which stands for its own outcome.
 */
export async function lastCronRunsByOutcome(kv: Deno.Kv): Promise<CronRun[]> {
  const seen = new Set<string>();
  const runs: CronRun[] = [];
  for await (const e of kv.list<CronRun>({ prefix: keys.cronRunsByOutcomePrefix() })) {
    seen.add(`${e.value.task}:${e.value.ok}`);
    runs.push(e.value);
  }
  for (const run of await lastCronRuns(kv)) {
    if (!seen.has(`${run.task}:${run.ok}`)) runs.push(run);
  }
  return runs;
}

/** Of a task's last run and its last `ok` one (either may be missing), the later good one. */
export function lastGoodRun(...runs: (CronRun | null)[]): CronRun | null {
  const good = runs.filter((r): r is CronRun => r?.ok === true);
  return good.sort((a, b) => b.started_at - a.started_at)[0] ?? null;
}

export async function lastCronRuns(kv: Deno.Kv): Promise<CronRun[]> {
  const runs: CronRun[] = [];
  for await (const e of kv.list<CronRun>({ prefix: keys.cronRunsPrefix() })) runs.push(e.value);
  return runs;
}

/** Open ops alerts by kind. */
export async function openOpsAlertsByKind(kv: Deno.Kv): Promise<Map<string, number>> {
  const byKind = new Map<string, number>();
  const list = kv.list<{ kind: string; status: string }>(
    { prefix: keys.opsAlertsPrefix() },
    { limit: COUNT_LIMIT, reverse: true },
  );
  for await (const e of list) {
    if (e.value.status === "open") byKind.set(e.value.kind, (byKind.get(e.value.kind) ?? 0) + 1);
  }
  return byKind;
}
