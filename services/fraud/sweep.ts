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
import { FRAUD_WALKER_ACTORS } from "../../domain/system_actors.ts";
import type { RuleSettingsMap, SweepRun } from "../../domain/fraud.ts";
import {
  addCursor,
  addSweepRun,
  addWalkLease,
  claimWalkLease,
  clearRescan,
  getCursor,
  getRuleSettings,
  listChanges,
  readAllCardDeclines,
  readSubjects,
  releaseWalkLease,
  type RescanMark,
  type SubjectState,
} from "../../kv/fraud.ts";
import { changedSince, evaluateSubject, type Evaluation, needsCustomerAge } from "./engine.ts";
import { declinesFrom, raiseEvaluated } from "./detect.ts";
import { RuleSettingsMoved } from "./rule_check.ts";
import type { RaiseDeps } from "./alerts.ts";
import { claimRecorded, leaseHeld, type StartAudit } from "./sweep_lease.ts";

export interface WalkOptions {
  walker: "live" | "sweep";
  trigger?: SweepRun["trigger"];
  batchSize?: number;
  /** tests: stop with an error after this many batches, as a crash would */
  crashAfterBatches?: number;
  settings?: RuleSettingsMap;
  /** leave rows changed in the last this many ms to the next walk (default `WALK_LAG_MS`) */
  lagMs?: number;
  /** the admin who started a manual sweep */
  startedBy?: string;
  /** a manual sweep's audit entry, in the commit that claims the lease (sweep_lease.ts) */
  startAudit?: StartAudit;
}

export const WALK_LAG_MS = 5_000;

export class SweepCrash extends Error {}

const MAX_ERRORS = 20;
/** a walker that died leaves its lease; another may start once it runs out */
const LEASE_MS = 10 * 60_000;

export async function walkChanges(d: RaiseDeps, options: WalkOptions): Promise<SweepRun> {
  const w = await startWalk(d, options);
  try {
    await walkBatches(d, w, options);
    if (w.rescan?.value) await clearRescan(d.kv, w.rescan);
    w.run.status = "finished";
  } catch (error) {
    w.run.status = "failed";
    w.run.errors = [...w.run.errors, error instanceof Error ? error.message : String(error)]
      .slice(-MAX_ERRORS);
    await endWalk(d, w);
    throw error;
  }
  await endWalk(d, w);
  return w.run;
}

/** A walk under way: its run record, where it started and how it records progress. */
interface Walk {
  run: SweepRun;
  walker: WalkOptions["walker"];
  settings: RuleSettingsMap;
  cursor: [number, string] | null;
  until: number;
  /** the rule change this walk walks all history for (a sweep's, `RescanMark`) */
  rescan: Deno.KvEntryMaybe<RescanMark> | null;
  save: (at: [number, string] | null) => Promise<void>;
}

/**
 * Claims the walker's lease, then reads where the previous walk ended (the
 * cursor) and starts the run there and then: a recorded walk (a sweep) reads
 * them in the commit that claims the lease, with a check on the cursor, so
 * each run starts where the previous one ended and run records never overlap.
 */
async function startWalk(d: RaiseDeps, options: WalkOptions): Promise<Walk> {
  const { kv } = d;
  const settings = options.settings ?? await getRuleSettings(kv);
  const record = options.walker === "sweep";
  const run: SweepRun = {
    id: d.newId("sweep"),
    trigger: options.trigger ?? "cron",
    started_by: options.startedBy ?? null,
    started_at: "",
    changes_until: "",
    finished_at: null,
    status: "running",
    subjects: 0,
    scanned: 0,
    alerts_raised: 0,
    hits_added: 0,
    cursor_from: null,
    cursor: null,
    errors: [],
  };
  const w: Walk = {
    run,
    walker: options.walker,
    settings,
    cursor: null,
    until: 0,
    rescan: null,
    save: () => Promise.resolve(),
  };
  /** The run starts now, from `cursor`: read under the lease. */
  const begin = (cursor: [number, string] | null) => {
    const now = d.now();
    // rows newer than the lag are left to the next walk: a commit built a moment ago (in a group
    // commit's queue, or in an isolate whose clock runs behind) may land behind the cursor
    // otherwise
    w.until = now - (options.lagMs ?? WALK_LAG_MS);
    w.cursor = cursor;
    run.started_at = new Date(now).toISOString();
    run.changes_until = new Date(w.until).toISOString();
    run.cursor_from = cursor ? JSON.stringify(cursor) : null;
    run.cursor = run.cursor_from;
  };
  const lease = () => ({ run: run.id, until: d.now() + LEASE_MS });
  if (record) {
    w.rescan = await claimRecorded(d, options.walker, options.startAudit, run, lease, begin);
  } else {
    const holder = await claimWalkLease(kv, options.walker, lease(), d.now());
    if (holder) throw await leaseHeld(kv, options.walker, holder);
    begin((await getCursor(kv, options.walker)).value);
  }
  w.save = async (at: [number, string] | null) => {
    const op = kv.atomic();
    addWalkLease(op, options.walker, lease());
    if (at) addCursor(op, options.walker, at);
    if (record) addSweepRun(op, run);
    await op.commit();
  };
  return w;
}

async function endWalk(d: RaiseDeps, w: Walk): Promise<void> {
  w.run.finished_at = new Date(d.now()).toISOString();
  if (w.walker === "sweep") await w.save(null);
  await releaseWalkLease(d.kv, w.walker, w.run.id);
}

/** One batch of the change index: its subjects' states and the last row's key. */
interface Batch {
  states: SubjectState[];
  last: [number, string];
  /** what it is evaluated with: the walk's settings when it was read */
  settings: RuleSettingsMap;
}

/** Rule changes one batch is evaluated again for, at most (each is a committed rule change) */
const MAX_SETTINGS_MOVES = 10;

/**
 * Card declines a walk over every subject reads up front at most (a few MB
 * held; the 1 M-payment bench has 50,000 and reads per card, 66 MB less peak RSS)
 */
const PRELOAD_DECLINES = 20_000;

/** Batches whose card checks and alerts may be under way while the next is evaluated */
const FINISHING = 2;

/**
 * Evaluates the changed subjects batch by batch, moving the cursor after
 * each once its alerts are committed, in order. Pipelined: while batch n is
 * evaluated (CPU), the rows and states of batch n+1 are read, and the card
 * checks and alert commits of batches n-1 and n-2 (`FINISHING`) are under
 * way; a batch's cursor is saved only after the batch before saved its own,
 * so a walk that dies resumes after the last cursor saved (alerts committed
 * past it are found again and add nothing).
 */
async function walkBatches(d: RaiseDeps, w: Walk, options: WalkOptions): Promise<void> {
  const ctx = systemContext(FRAUD_WALKER_ACTORS[w.walker]);
  const pick = changedSince(w.cursor ? w.cursor[0] : null);
  // the settings may move during the walk (`evaluated` below): each read asks the current ones
  const read = (subjects: string[]) =>
    readSubjects(d.kv, subjects, needsCustomerAge(w.settings, pick));
  const rows = changeBatches(d.kv, w.cursor, w.until, options.batchSize ?? 400);
  const next = async (): Promise<Batch | null> => {
    const r = await rows.next();
    if (r.done) return null;
    const states = await read(r.value.subjects);
    return { states, last: r.value.last, settings: w.settings };
  };
  /** Raised under the settings the batch was evaluated with, or again under those now stored. */
  const evaluated = async (batch: Batch, evals: Evaluation[]) => {
    for (let moved = 0;; moved++) {
      try {
        return await raiseEvaluated(d, ctx, batch.states, evals, batch.settings, declines);
      } catch (error) {
        if (!(error instanceof RuleSettingsMoved) || moved >= MAX_SETTINGS_MOVES) throw error;
        const settings = await getRuleSettings(d.kv);
        w.settings = settings;
        batch.settings = settings;
        batch.states = await read(batch.states.map((s) => s.subject));
        evals = batch.states.map((s) => evaluateSubject(s, settings, pick));
      }
    }
  };
  // a walk over every subject reads the card declines once, not one range per declined card,
  // unless there are too many to hold
  const all = w.cursor === null ? await readAllCardDeclines(d.kv, PRELOAD_DECLINES) : null;
  const declines = all ? declinesFrom(all) : undefined;
  let batches = 0;
  const finish = async (batch: Batch, evals: Evaluation[], before: Promise<void> | undefined) => {
    const r = await evaluated(batch, evals);
    await before;
    w.run.subjects += batch.states.length;
    w.run.scanned += r.evaluated;
    w.run.alerts_raised += r.raised;
    w.run.hits_added += r.hits;
    w.run.cursor = JSON.stringify(batch.last);
    await w.save(batch.last);
    if (++batches === options.crashAfterBatches) throw new SweepCrash("stopped by the test");
  };
  let pending = next();
  const finishing: Promise<void>[] = [];
  try {
    for (let batch = await pending; batch; batch = await pending) {
      pending = next();
      // a walk that stops leaves it unawaited
      pending.catch(() => {});
      if (batch.settings !== w.settings) {
        // read before the settings moved: read again as the current ones need
        batch.settings = w.settings;
        batch.states = await read(batch.states.map((s) => s.subject));
      }
      const evals = batch.states.map((s) => evaluateSubject(s, batch.settings, pick));
      if (finishing.length >= FINISHING) await finishing.shift();
      const f = finish(batch, evals, finishing.at(-1));
      // thrown where it is awaited
      f.catch(() => {});
      finishing.push(f);
    }
    await Promise.all(finishing);
  } catch (error) {
    // the batches under way end first: no save may follow the lease's release
    await Promise.allSettled(finishing);
    throw error;
  }
}

/** The change index from `cursor` to `until`, `size` subjects at a time. */
async function* changeBatches(
  kv: Deno.Kv,
  cursor: [number, string] | null,
  until: number,
  size: number,
): AsyncGenerator<{ subjects: string[]; last: [number, string] }> {
  let subjects: string[] = [];
  let last: [number, string] | null = null;
  for await (const row of listChanges(kv, cursor, until, Math.min(1000, Math.max(size, 100)))) {
    subjects.push(row.value);
    last = [row.key[1] as number, row.key[2] as string];
    if (subjects.length < size) continue;
    yield { subjects, last };
    subjects = [];
  }
  if (subjects.length) yield { subjects, last: last! };
}
