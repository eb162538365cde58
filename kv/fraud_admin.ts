/**
 * Fraud rule settings and their versions, snoozes, and the walkers' cursors
 * and sweep runs in KV (re-exported by kv/fraud.ts).
 */
import { keys } from "./keys.ts";
import { getManyChunked } from "./atomic.ts";
import { type CursorSealer, listPage, type Page, scanPage } from "./pagination.ts";
import {
  defaultRuleSettings,
  RULE_NAMES,
  type RuleName,
  type RuleSettings,
  type RuleSettingsMap,
  type Snooze,
  type SweepRun,
} from "../domain/fraud.ts";

// --- rule settings -----------------------------------------------------------------

export async function getRuleEntries(kv: Deno.Kv) {
  return await getManyChunked<RuleSettings>(kv, RULE_NAMES.map((r) => keys.fraudRule(r)));
}

/** One rule's stored settings (null: never changed, its defaults apply) and their version. */
export async function getRuleVersion(kv: Deno.Kv, rule: RuleName) {
  const entry = await kv.get<RuleSettings>(keys.fraudRule(rule));
  return { entry, version: entry.value?.version ?? defaultRuleSettings()[rule].version };
}

/** Current settings of every rule: stored, or the defaults. */
export async function getRuleSettings(kv: Deno.Kv): Promise<RuleSettingsMap> {
  const defaults = defaultRuleSettings();
  const rows = await getRuleEntries(kv);
  RULE_NAMES.forEach((r, i) => {
    if (rows[i].value) defaults[r] = { ...defaults[r], ...rows[i].value };
  });
  return defaults;
}

export function addRuleVersion(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<RuleSettings>,
  next: RuleSettings,
): void {
  op.check(read);
  op.check({ key: keys.fraudRuleVersion(next.rule, next.version), versionstamp: null });
  op.set(keys.fraudRule(next.rule), next);
  op.set(keys.fraudRuleVersion(next.rule, next.version), next);
}

// --- snoozes -------------------------------------------------------------------------

/** A snooze and its index row, both removed by KV once it has run out (`until`). */
export function addSnooze(op: Deno.AtomicOperation, s: Snooze, now: number): void {
  const expireIn = Math.max(1, Date.parse(s.until) - now);
  op.set(keys.fraudSnooze(s.id), s, { expireIn });
  op.set(keys.fraudSnoozeBySubject(s.customer, s.rule, s.id), s.id, { expireIn });
}

export function getSnooze(kv: Deno.Kv, id: string) {
  return kv.get<Snooze>(keys.fraudSnooze(id));
}

export function addSnoozeDelete(op: Deno.AtomicOperation, entry: Deno.KvEntry<Snooze>): void {
  op.check(entry);
  op.delete(keys.fraudSnooze(entry.value.id));
  op.delete(keys.fraudSnoozeBySubject(entry.value.customer, entry.value.rule, entry.value.id));
}

export interface SnoozeQuery {
  customer?: string;
  rule?: string;
  limit: number;
  cursor?: string;
}

/** Snoozes scanned at most for one page: a filter matching few never reads them all at once. */
const SNOOZE_SCAN_BUDGET = 2_000;

/**
 * One page of the snoozes in force at `now`, newest first, filtered; one
 * that has run out is skipped (KV removes it; those stored before they
 * expired by themselves stay until deleted).
 */
export function listSnoozes(
  kv: Deno.Kv,
  sealer: CursorSealer,
  q: SnoozeQuery,
  now: number,
): Promise<Page<Snooze>> {
  return scanPage<Snooze, Snooze>(kv, sealer, keys.fraudSnoozesPrefix(), {
    scope: "fraud_snoozes",
    limit: q.limit,
    cursor: q.cursor,
    budget: SNOOZE_SCAN_BUDGET,
  }, ({ value: s }) =>
    Date.parse(s.until) > now && (!q.customer || s.customer === q.customer) &&
      (!q.rule || s.rule === q.rule)
      ? s
      : null);
}

/** A snooze of `rule` for `customer` that runs past `now`, if any. */
export async function snoozeInForce(
  kv: Deno.Kv,
  customer: string,
  rule: string,
  now: number,
): Promise<Snooze | null> {
  const ids: string[] = [];
  for await (
    const r of kv.list<string>({ prefix: keys.fraudSnoozesBySubjectPrefix(customer, rule) })
  ) {
    ids.push(r.value);
  }
  const rows = await getManyChunked<Snooze>(kv, ids.map((id) => keys.fraudSnooze(id)));
  return rows.find((r) => r.value && Date.parse(r.value.until) > now)?.value ?? null;
}

/**
 * Until when (ms) a subject's payments raise nothing of a rule: the latest end of its snoozes,
 * their `until` or when one was deleted, and the snooze that ended last (`keys.fraudSnoozeQuiet`).
 */
export interface SnoozeQuiet {
  until: number;
  snooze: string;
}

export function getSnoozeQuiet(kv: Deno.Kv, subject: string, rule: string) {
  return kv.get<SnoozeQuiet>(keys.fraudSnoozeQuiet(subject, rule));
}

/** Writes `quiet` over `read` (checked), kept `keepMs` past its `until` (then KV drops it). */
export function addSnoozeQuiet(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<SnoozeQuiet>,
  subject: string,
  rule: string,
  quiet: SnoozeQuiet,
  now: number,
  keepMs: number,
): void {
  op.check(read);
  op.set(keys.fraudSnoozeQuiet(subject, rule), quiet, {
    expireIn: Math.max(1, quiet.until - now + keepMs),
  });
}

/**
 * The time (ms) before which `subject`'s payments raise nothing of `rule`: the latest end of
 * its snoozes, or the `until` of one in force stored before those ends were kept (read when
 * `inForce`); -Infinity when none.
 */
export async function quietBefore(
  kv: Deno.Kv,
  subject: string,
  rule: string,
  now: number,
  inForce = true,
): Promise<number> {
  const [quiet, current] = await Promise.all([
    getSnoozeQuiet(kv, subject, rule),
    inForce ? snoozeInForce(kv, subject, rule, now) : null,
  ]);
  return Math.max(quiet.value?.until ?? -Infinity, current ? Date.parse(current.until) : -Infinity);
}

// --- sweeps ----------------------------------------------------------------------------

/** Where a walker has reached: the last change-index key it finished, as `[ms, subject]`. */
export function getCursor(kv: Deno.Kv, name: string) {
  return kv.get<[number, string]>(keys.fraudCursor(name));
}

export function addCursor(op: Deno.AtomicOperation, name: string, at: [number, string]): void {
  op.set(keys.fraudCursor(name), at);
}

/**
 * A rule change the sweep has not walked history under yet (README "Fraud
 * detection", Tuning): set in the change's commit; the next sweep walks every
 * subject's kept history from the start, and clears it (checked: a change
 * made meanwhile keeps it) once it has finished.
 */
export interface RescanMark {
  rule: string;
  version: number;
  at: string;
}

export function getRescan(kv: Deno.Kv) {
  return kv.get<RescanMark>(keys.fraudCursor("sweep:rescan"));
}

export function addRescan(op: Deno.AtomicOperation, mark: RescanMark): void {
  op.set(keys.fraudCursor("sweep:rescan"), mark);
}

/** Clears the mark the sweep began under, unless a change set it again since. */
export async function clearRescan(kv: Deno.Kv, seen: Deno.KvEntryMaybe<RescanMark>) {
  await kv.atomic().check(seen).delete(keys.fraudCursor("sweep:rescan")).commit();
}

export function addSweepRun(op: Deno.AtomicOperation, run: SweepRun): void {
  op.set(keys.fraudSweep(run.id), run);
}

export async function getSweepRun(kv: Deno.Kv, id: string): Promise<SweepRun | null> {
  return (await kv.get<SweepRun>(keys.fraudSweep(id))).value;
}

/** One page of sweep runs, newest first (run ids are ULIDs: key order is start order). */
export function listSweepRuns(
  kv: Deno.Kv,
  sealer: CursorSealer,
  q: { limit: number; cursor?: string },
): Promise<Page<SweepRun>> {
  return listPage<SweepRun>(kv, sealer, { prefix: keys.fraudSweepsPrefix() }, {
    scope: "fraud_sweeps",
    limit: q.limit,
    cursor: q.cursor,
  });
}

/** Rows of the change index after `after` (exclusive) up to `untilMs` (inclusive). */
export function listChanges(
  kv: Deno.Kv,
  after: [number, string] | null,
  untilMs: number,
  batchSize = 500,
) {
  const prefix = keys.fraudChangesPrefix();
  const start = after ? [...prefix, after[0], after[1] + "\0"] : prefix;
  return kv.list<string>({ start, end: [...prefix, untilMs + 1] }, { batchSize });
}

/** One walker of a kind at a time: a lease `{run, until}` next to its cursor. */
export interface WalkLease {
  run: string;
  /** ms */
  until: number;
}

/** Takes the walker's lease unless another run holds one that has not run out. */
export async function claimWalkLease(
  kv: Deno.Kv,
  name: string,
  lease: WalkLease,
  now: number,
): Promise<WalkLease | null> {
  const key = keys.fraudCursor(`${name}:lease`);
  const held = await kv.get<WalkLease>(key);
  if (held.value && held.value.until > now) return held.value;
  const res = await kv.atomic().check(held).set(key, lease).commit();
  if (res.ok) return null;
  return (await kv.get<WalkLease>(key)).value ?? lease;
}

/** The walker's lease as stored, to be claimed in a commit of the caller's (`addWalkLeaseClaim`). */
export function readWalkLease(kv: Deno.Kv, name: string) {
  return kv.get<WalkLease>(keys.fraudCursor(`${name}:lease`));
}

/** Claims the lease read as `held` (one that has run out, or none) in `op`. */
export function addWalkLeaseClaim(
  op: Deno.AtomicOperation,
  name: string,
  held: Deno.KvEntryMaybe<WalkLease>,
  lease: WalkLease,
): void {
  op.check(held).set(keys.fraudCursor(`${name}:lease`), lease);
}

export function addWalkLease(op: Deno.AtomicOperation, name: string, lease: WalkLease): void {
  op.set(keys.fraudCursor(`${name}:lease`), lease);
}

export async function releaseWalkLease(kv: Deno.Kv, name: string, run: string): Promise<void> {
  const key = keys.fraudCursor(`${name}:lease`);
  const held = await kv.get<WalkLease>(key);
  if (held.value?.run !== run) return;
  await kv.atomic().check(held).delete(key).commit();
}
