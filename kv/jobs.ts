/**
 * Work that must happen later: a record at `["jobs", due_at, id]`, claimed
 * atomically and run by `Deno.cron` (and an in-process loop locally).
 * Not KV queues: Deno Deploy has none.
 *
 * Claiming moves the job to `due_at = now + lease`, so a runner that dies
 * mid-job leaves it to be claimed again once the lease runs out; finishing
 * deletes it, failing reschedules it with backoff, and after `maxAttempts`
 * it moves to `["jobs_dead", id]` for an operator to look at.
 */
import { keys } from "./keys.ts";
import type { Clock } from "../core/clock.ts";
import type { IdFactory } from "../core/ids.ts";
import { withLogFields } from "../core/log_context.ts";

export interface Job<P = unknown> {
  id: string;
  kind: string;
  payload: P;
  due_at: number;
  attempts: number;
  max_attempts: number;
  created_at: number;
  last_error: string | null;
  /** set while a runner holds it */
  lease_until: number | null;
}

export interface DeadJob<P = unknown> extends Job<P> {
  dead_at: number;
}

export interface EnqueueOptions {
  /** ms since epoch; default now */
  dueAt?: number;
  maxAttempts?: number;
  /** a chosen id (default: a fresh `job_` id) */
  id?: string;
}

/** Adds the job's mutations to `op`, so a job is created in the same commit as the change that needs it. */
export function addJob<P>(
  op: Deno.AtomicOperation,
  clock: Clock,
  newId: IdFactory,
  kind: string,
  payload: P,
  options: EnqueueOptions = {},
): Job<P> {
  const now = clock.now();
  const job: Job<P> = {
    id: options.id ?? newId("job"),
    kind,
    payload,
    due_at: options.dueAt ?? now,
    attempts: 0,
    max_attempts: options.maxAttempts ?? 8,
    created_at: now,
    last_error: null,
    lease_until: null,
  };
  op.set(keys.job(job.due_at, job.id), job);
  return job;
}

export type JobHandler = (job: Job) => Promise<void>;

export interface RunJobsOptions {
  /** jobs to run at most in this pass (default 50) */
  limit?: number;
  /** how long a claim lasts before another runner may take the job (default 60 s) */
  leaseMs?: number;
  /** delay before attempt n+1 (default: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h …) */
  backoffMs?: (attempts: number) => number;
  /** told after the failure was recorded: the job runs again at `retry_at`, or is dead */
  onError?: (job: Job, error: unknown, next: { dead: boolean; retry_at: number | null }) => void;
}

export interface RunJobsResult {
  ran: number;
  failed: number;
  dead: number;
}

const DEFAULT_BACKOFF = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000];

/** Claims and runs every job due now (up to `limit`), one at a time. */
export async function runDueJobs(
  kv: Deno.Kv,
  clock: Clock,
  handlers: Record<string, JobHandler>,
  options: RunJobsOptions = {},
): Promise<RunJobsResult> {
  const limit = options.limit ?? 50;
  const leaseMs = options.leaseMs ?? 60_000;
  const backoff = options.backoffMs ??
    ((n: number) => DEFAULT_BACKOFF[Math.min(n - 1, DEFAULT_BACKOFF.length - 1)]);
  const result: RunJobsResult = { ran: 0, failed: 0, dead: 0 };
  const due = kv.list<Job>({ start: keys.jobsPrefix(), end: keys.jobsDueBefore(clock.now() + 1) }, {
    limit,
  });
  for await (const entry of due) {
    const claimed = await claim(kv, clock, entry, leaseMs);
    if (!claimed) continue; // another runner took it
    const handler = handlers[claimed.kind];
    // its log lines (and its failure's) name the job
    await withLogFields({ job_id: claimed.id, job_kind: claimed.kind }, async () => {
      try {
        if (!handler) throw new Error(`no handler for job kind "${claimed.kind}"`);
        await handler(claimed);
        await kv.delete(keys.job(claimed.due_at, claimed.id));
        result.ran++;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const retryAt = await fail(kv, clock, claimed, message, backoff);
        if (retryAt === null) result.dead++;
        else result.failed++;
        options.onError?.(claimed, error, { dead: retryAt === null, retry_at: retryAt });
      }
    });
  }
  return result;
}

async function claim(
  kv: Deno.Kv,
  clock: Clock,
  entry: Deno.KvEntry<Job>,
  leaseMs: number,
): Promise<Job | null> {
  const now = clock.now();
  const job: Job = {
    ...entry.value,
    attempts: entry.value.attempts + 1,
    due_at: now + leaseMs,
    lease_until: now + leaseMs,
  };
  const res = await kv.atomic()
    .check(entry)
    .delete(entry.key)
    .set(keys.job(job.due_at, job.id), job)
    .commit();
  return res.ok ? job : null;
}

/** Reschedules, or dead-letters after the last attempt. Returns when it runs again; null: dead. */
async function fail(
  kv: Deno.Kv,
  clock: Clock,
  job: Job,
  error: string,
  backoff: (attempts: number) => number,
): Promise<number | null> {
  const now = clock.now();
  const op = kv.atomic().delete(keys.job(job.due_at, job.id));
  if (job.attempts >= job.max_attempts) {
    const dead: DeadJob = { ...job, last_error: error, lease_until: null, dead_at: now };
    await op.set(keys.deadJob(job.id), dead).commit();
    return null;
  }
  const next: Job = {
    ...job,
    last_error: error,
    lease_until: null,
    due_at: now + backoff(job.attempts),
  };
  await op.set(keys.job(next.due_at, next.id), next).commit();
  return next.due_at;
}

/** Every pending job (tests, admin views). */
export async function listJobs(kv: Deno.Kv): Promise<Job[]> {
  const out: Job[] = [];
  for await (const e of kv.list<Job>({ prefix: keys.jobsPrefix() })) out.push(e.value);
  return out;
}

export async function listDeadJobs(kv: Deno.Kv): Promise<DeadJob[]> {
  const out: DeadJob[] = [];
  for await (const e of kv.list<DeadJob>({ prefix: keys.deadJobsPrefix() })) out.push(e.value);
  return out;
}

/**
 * Moves the dead jobs of these kinds back into the table, due now, with their
 * attempts reset; returns them. For reconciliation jobs, whose handlers end
 * by themselves once Stripe's outcome is known: an outage longer than their
 * attempts must not leave an action `processing` for good.
 */
export async function reviveDeadJobs(
  kv: Deno.Kv,
  clock: Clock,
  kinds: ReadonlySet<string>,
): Promise<DeadJob[]> {
  const revived: DeadJob[] = [];
  for await (const e of kv.list<DeadJob>({ prefix: keys.deadJobsPrefix() })) {
    const dead = e.value;
    if (!kinds.has(dead.kind)) continue;
    const { dead_at: _deadAt, ...rest } = dead;
    const job: Job = { ...rest, attempts: 0, due_at: clock.now(), lease_until: null };
    const res = await kv.atomic().check(e).delete(e.key)
      .set(keys.job(job.due_at, job.id), job).commit();
    if (res.ok) revived.push(dead);
  }
  return revived;
}

/** How many pending jobs `addJobsDeletion` looks through (a backlog after an outage, say). */
const PENDING_SCAN_LIMIT = 5_000;

/**
 * Adds to `op` the deletion of the jobs of `kind` whose payload `matches`, pending and
 * dead-lettered alike: the work they stood for was done or given up by hand (a replay, a
 * dismissal), so they no longer count as waiting or dead. Unchecked: a pending job that a
 * runner claims meanwhile has moved to another key and ends by itself when it runs; past
 * the scan's limit one is left to do the same.
 */
export async function addJobsDeletion(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  kind: string,
  matches: (payload: unknown) => boolean,
): Promise<number> {
  let n = 0;
  for await (const e of kv.list<DeadJob>({ prefix: keys.deadJobsPrefix() })) {
    if (e.value.kind === kind && matches(e.value.payload)) {
      op.delete(e.key);
      n++;
    }
  }
  const pending = kv.list<Job>({ prefix: keys.jobsPrefix() }, { limit: PENDING_SCAN_LIMIT });
  for await (const e of pending) {
    if (e.value.kind === kind && matches(e.value.payload)) {
      op.delete(e.key);
      n++;
    }
  }
  return n;
}
