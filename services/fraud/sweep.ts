/**
 * Walking the change index (`["fraud_changes", ms, subject]`, moved by every
 * ingest commit that changes a subject's history) from a cursor: each
 * subject whose history changed since is read once, its payments changed
 * since are evaluated, and the cursor moves after every batch, in the commit
 * that records the run's progress. A walk that dies resumes from there;
 * evaluating a payment again adds nothing (hits are recorded once).
 *
 * Two walkers share this: `live` (every few seconds locally, each minute by
 * cron: the rules on every payment event) and `sweep` (`FRAUD_SWEEP_SCHEDULE`
 * and `POST /fraud/sweeps`, with a run record).
 */
import { systemContext } from "../../domain/actor.ts";
import type { RuleSettingsMap, SweepRun } from "../../domain/fraud.ts";
import { AppError } from "../../core/errors.ts";
import {
  addCursor,
  addSweepRun,
  addWalkLease,
  claimWalkLease,
  getCursor,
  getRuleSettings,
  listChanges,
  readSubjects,
  releaseWalkLease,
} from "../../kv/fraud.ts";
import { changedSince, needsCustomerAge } from "./engine.ts";
import { detectAndRaise } from "./detect.ts";
import type { RaiseDeps } from "./alerts.ts";

export interface WalkOptions {
  walker: "live" | "sweep";
  trigger?: SweepRun["trigger"];
  batchSize?: number;
  /** tests: stop with an error after this many batches, as a crash would */
  crashAfterBatches?: number;
  settings?: RuleSettingsMap;
  /** leave rows changed in the last this many ms to the next walk (default `WALK_LAG_MS`) */
  lagMs?: number;
}

export const WALK_LAG_MS = 5_000;

export class SweepCrash extends Error {}

const MAX_ERRORS = 20;
/** a walker that died leaves its lease; another may start once it runs out */
const LEASE_MS = 10 * 60_000;

export async function walkChanges(
  d: RaiseDeps & { newId: RaiseDeps["newId"] },
  options: WalkOptions,
): Promise<SweepRun> {
  const { kv } = d;
  const batchSize = options.batchSize ?? 400;
  const settings = options.settings ?? await getRuleSettings(kv);
  const cursor = (await getCursor(kv, options.walker)).value;
  const since = cursor ? cursor[0] : null;
  // rows newer than the lag are left to the next walk: a commit built a moment ago (in a group
  // commit's queue, or in an isolate whose clock runs behind) may land behind the cursor otherwise
  const until = d.now() - (options.lagMs ?? WALK_LAG_MS);
  const record = options.walker === "sweep";
  const ctx = systemContext(`cron:fraud_${options.walker}`);
  const run: SweepRun = {
    id: d.newId("sweep"),
    trigger: options.trigger ?? "cron",
    started_at: new Date(until).toISOString(),
    finished_at: null,
    status: "running",
    subjects: 0,
    scanned: 0,
    alerts_raised: 0,
    hits_added: 0,
    cursor_from: cursor ? JSON.stringify(cursor) : null,
    cursor: cursor ? JSON.stringify(cursor) : null,
    errors: [],
  };
  const lease = () => ({ run: run.id, until: d.now() + LEASE_MS });
  const holder = await claimWalkLease(kv, options.walker, lease(), d.now());
  if (holder) {
    throw new AppError(
      "conflict",
      `a ${options.walker} run (${holder.run}) is in progress until ${
        new Date(holder.until).toISOString()
      } at the latest; look at GET /fraud/sweeps and try again when it has finished`,
    );
  }
  const save = async (at: [number, string] | null) => {
    const op = kv.atomic();
    addWalkLease(op, options.walker, lease());
    if (at) addCursor(op, options.walker, at);
    if (record) addSweepRun(op, run);
    await op.commit();
  };
  if (record) await save(null);
  let batch: string[] = [];
  let last: [number, string] | null = null;
  let batches = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const pick = changedSince(since);
    const states = await readSubjects(kv, batch, needsCustomerAge(settings, pick));
    const r = await detectAndRaise(d, ctx, states, settings, () => pick);
    run.subjects += batch.length;
    run.scanned += r.evaluated;
    run.alerts_raised += r.raised;
    run.hits_added += r.hits;
    run.cursor = JSON.stringify(last);
    batch = [];
    await save(last);
    if (++batches === options.crashAfterBatches) throw new SweepCrash("stopped by the test");
  };
  try {
    for await (const row of listChanges(kv, cursor, until)) {
      batch.push(row.value);
      last = [row.key[1] as number, row.key[2] as string];
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    run.status = "finished";
  } catch (error) {
    run.status = "failed";
    run.errors = [...run.errors, error instanceof Error ? error.message : String(error)]
      .slice(-MAX_ERRORS);
    run.finished_at = new Date(d.now()).toISOString();
    if (record) await save(null);
    await releaseWalkLease(kv, options.walker, run.id);
    throw error;
  }
  run.finished_at = new Date(d.now()).toISOString();
  if (record) await save(null);
  await releaseWalkLease(kv, options.walker, run.id);
  return run;
}
