/**
 * Turning alert-level signals into alerts: one open alert per subject and
 * rule collects further hits (a transaction's hit recorded once), keeps its
 * last `ALERT_MAX_HITS` signals and a count of all, the rule version and a
 * bounded snapshot of the inputs. Raised and grown in one audited commit per
 * subject. A signal of a rule in shadow mode is recorded, never raised; a
 * snoozed rule raises nothing for that customer (or card subject) at a
 * payment made before the snooze ended (its `until`, or when it was
 * deleted), however late the payment is evaluated (README "Fraud
 * detection": workflow).
 */
import type { AuditInput, AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { IdFactory } from "../../core/ids.ts";
import {
  ALERT_MAX_HITS,
  type FraudAlert,
  type RuleName,
  SEVERITIES,
  type Severity,
  type Signal,
} from "../../domain/fraud.ts";
import {
  addAlertWrite,
  addJudged,
  addShadowHit,
  alertCustomers,
  fraudKeys as keys,
  getAlert,
  MAX_RECORD_CHARS,
  quietBefore,
} from "../../kv/fraud.ts";
import { ruleStillRaises, snoozedAt } from "./rule_check.ts";
import { judgedBy, notJudged } from "./judged.ts";

export interface AlertTarget {
  subject: string;
  customer: string | null;
  card_fingerprint: string | null;
  customers: string[];
}

export interface RaiseOutcome {
  raised: number;
  hits: number;
  alerts: string[];
}

function maxSeverity(a: Severity, b: Severity): Severity {
  return SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(b) ? a : b;
}

/**
 * Drops the evidence of the oldest kept signals (never the newest) until the
 * record fits KV's value limit with room to spare; `assertFits` then guards
 * the write, so a record that could not be saved fails the commit loudly.
 */
export function fitAlert(alert: FraudAlert): FraudAlert {
  let size = JSON.stringify(alert).length;
  for (let i = 0; size > MAX_RECORD_CHARS * 0.9 && i < alert.signals.length - 1; i++) {
    const s = alert.signals[i];
    alert.signals[i] = { ...s, evidence: { trimmed: true } };
    size = JSON.stringify(alert).length;
  }
  if (size > MAX_RECORD_CHARS * 0.9) alert.snapshot = { trimmed: true };
  return alert;
}

function newAlert(id: string, t: AlertTarget, s: Signal, now: string): FraudAlert {
  return {
    id,
    subject: t.subject,
    customer: t.customer,
    card_fingerprint: t.card_fingerprint,
    customers: t.customers.slice(0, 50),
    rule: s.rule,
    rule_version: s.rule_version,
    severity: s.severity,
    score: s.points,
    status: "open",
    assignee: null,
    signals: [],
    hit_count: 0,
    transactions: [],
    snapshot: {},
    resolution_note: null,
    history: [],
    refunds: [],
    created_at: now,
    updated_at: now,
  };
}

function addHit(alert: FraudAlert, s: Signal, snapshot: Record<string, unknown>): void {
  alert.signals = [...alert.signals, s].slice(-ALERT_MAX_HITS);
  alert.hit_count++;
  if (s.transaction_id && !alert.transactions.includes(s.transaction_id)) {
    alert.transactions = [...alert.transactions, s.transaction_id].slice(-ALERT_MAX_HITS);
  }
  alert.severity = maxSeverity(alert.severity, s.severity);
  alert.score = Math.max(alert.score, s.points);
  alert.rule_version = s.rule_version;
  alert.snapshot = snapshot;
}

export interface RaiseDeps {
  kv: Deno.Kv;
  audit: AuditService;
  newId: IdFactory;
  now: () => number;
}

/** Which of `signals` would add a hit: alert level, live, not at a payment made while snoozed. */
async function live(d: RaiseDeps, t: AlertTarget, signals: Signal[]) {
  const out: Signal[] = [];
  const quiet = new Map<string, number>();
  for (const s of signals) {
    if (s.level !== "alert" || s.shadow) continue;
    // a customer's snooze, or a card's (its subject, `card:<fingerprint>`)
    if (!quiet.has(s.rule)) {
      quiet.set(s.rule, await quietBefore(d.kv, t.subject, s.rule, d.now()));
    }
    if (snoozedAt(s, quiet.get(s.rule)!)) continue;
    out.push(s);
  }
  return out;
}

/** Records shadow-mode signals (no alert, no audit: nothing a person acts on). */
export async function recordShadow(kv: Deno.Kv, subject: string, signals: Signal[]) {
  const shadow = signals.filter((s) => s.shadow && s.level === "alert");
  for (let i = 0; i < shadow.length; i += 100) {
    const op = kv.atomic();
    for (const s of shadow.slice(i, i + 100)) addShadowHit(op, subject, s);
    await op.commit();
  }
  return shadow.length;
}

/**
 * Adds the signals' hits to the subject's open alerts (opening them where
 * none is open), in one audited commit. A hit already recorded changes
 * nothing, nor does a signal made only of what another alert of the subject
 * and rule has judged (judged.ts: a resolved one), so evaluating the same
 * payments again neither raises an alert nor grows the open one.
 */
export async function raiseAlerts(
  d: RaiseDeps,
  ctx: CallContext,
  target: AlertTarget,
  signals: Signal[],
  snapshotOf: (s: Signal) => Record<string, unknown>,
): Promise<RaiseOutcome> {
  const candidates = await raisable(d, target, signals);
  if (candidates.length === 0) return { raised: 0, hits: 0, alerts: [] };
  return await d.audit.commit(ctx, async (op) => {
    const r = await addRaise(d, op, { target, candidates, snapshotOf }, d.now());
    return { value: r.outcome, audit: r.audit };
  });
}

/** The signals that would add a hit (live, not snoozed, not recorded yet); none: [] */
export async function raisable(
  d: RaiseDeps,
  target: AlertTarget,
  signals: Signal[],
): Promise<Signal[]> {
  const candidates = await live(d, target, signals);
  if (candidates.length === 0) return [];
  if (!(await anythingNew(d.kv, target.subject, candidates, d.now()))) return [];
  return candidates;
}

/** One subject's raise: `candidates` from `raisable`, snapshots for the alerts' records. */
export interface RaiseInput {
  target: AlertTarget;
  candidates: Signal[];
  snapshotOf: (s: Signal) => Record<string, unknown>;
}

/**
 * Reads the subject's open alerts, checks them in `op` and adds the hits
 * (opening alerts where none is open); returns what it did and the audit
 * entries to append with it. Runs inside an audited commit's `build`.
 */
export async function addRaise(
  d: RaiseDeps,
  op: Deno.AtomicOperation,
  { target, candidates, snapshotOf }: RaiseInput,
  nowMs: number,
): Promise<{ outcome: RaiseOutcome; audit: AuditInput[] }> {
  const now = new Date(nowMs).toISOString();
  const byRule = new Map<RuleName, Signal[]>();
  for (const s of candidates) byRule.set(s.rule, [...(byRule.get(s.rule) ?? []), s]);
  const audit: AuditInput[] = [];
  const outcome: RaiseOutcome = { raised: 0, hits: 0, alerts: [] };
  for (const [rule, sigs] of byRule) {
    // never under a version, nor past a snooze, that a change (on any isolate) made since
    const raising = await ruleStillRaises(d.kv, op, rule, sigs, target.subject, nowMs);
    if (raising.length === 0) continue;
    const openId = await d.kv.get<string>(keys.fraudOpenAlert(target.subject, rule));
    op.check(openId);
    const existing = openId.value ? await getAlert(d.kv, openId.value) : null;
    if (existing) op.check(existing);
    const isNew = !existing?.value;
    // what another alert of the subject and rule judged (a resolved one) raises nothing again,
    // nor grows the open one (judged.ts); what it judged stays so (for its retention, far longer
    // than this commit), and only a raise (checking the open alert, as here) writes it, so
    // nothing more to check in `op`
    const openAlertId = existing?.value?.id ?? null;
    const { left, held } = await notJudged(
      d.kv,
      target.subject,
      rule,
      raising,
      nowMs,
      openAlertId,
    );
    if (left.length === 0) continue;
    const alert = existing?.value
      ? structuredClone(existing.value)
      : newAlert(d.newId("fa"), target, left[0], now);
    const fresh: string[] = [];
    const counted: Signal[] = [];
    for (const s of left) {
      const x = s.transaction_id ?? s.at;
      if (fresh.includes(x)) continue;
      if (!isNew && (await d.kv.get(keys.fraudAlertHit(alert.id, x))).value) continue;
      fresh.push(x);
      addHit(alert, s, snapshotOf(s));
      counted.push(s);
    }
    if (fresh.length === 0) continue;
    addJudged(op, target.subject, rule, judgedBy(counted, nowMs), alert.id, nowMs, held);
    for (const c of target.customers) {
      if (!alert.customers.includes(c) && alert.customers.length < 50) alert.customers.push(c);
    }
    alert.updated_at = now;
    const indexed = existing?.value ? alertCustomers(existing.value) : [];
    addAlertWrite(op, fitAlert(alert), isNew, fresh, indexed);
    outcome.hits += fresh.length;
    outcome.alerts.push(alert.id);
    if (isNew) outcome.raised++;
    audit.push({
      action: isNew ? "fraud_alert.raise" : "fraud_alert.hit",
      target: { type: "fraud_alert", id: alert.id },
      result: "ok",
      after: {
        rule,
        subject: target.subject,
        severity: alert.severity,
        hits: fresh.length,
        hit_count: alert.hit_count,
        transactions: fresh.slice(0, 20),
      },
    });
  }
  return { outcome, audit };
}

/** A read-only look first, so a sweep over known hits never queues on the audit chain. */
async function anythingNew(
  kv: Deno.Kv,
  subject: string,
  signals: Signal[],
  now: number,
): Promise<boolean> {
  const rules = [...new Set(signals.map((s) => s.rule))];
  const open = await kv.getMany<string[]>(rules.map((r) => keys.fraudOpenAlert(subject, r)));
  for (const [i, rule] of rules.entries()) {
    // made only of what another alert of the subject and rule judged: nothing new
    const id = open[i].value;
    const mine = signals.filter((s) => s.rule === rule);
    const { left } = await notJudged(kv, subject, rule, mine, now, id);
    if (left.length === 0) continue;
    if (!id) return true;
    const xs = [...new Set(left.map((s) => s.transaction_id ?? s.at))];
    for (let j = 0; j < xs.length; j += 10) {
      const hits = await kv.getMany(xs.slice(j, j + 10).map((x) => keys.fraudAlertHit(id, x)));
      if (hits.some((h) => h.value === null)) return true;
    }
  }
  return false;
}
