/**
 * The history the fraud rules count in: per subject (a customer, or a card
 * seen without one) a small record of its recent attempts, disputes and
 * early fraud warnings, kept up to date in the commit that applies a Stripe
 * event (services/ingest/apply.ts). Windows are measured from each payment's
 * Stripe time, and history is pruned against the newest Stripe time it holds,
 * never against "now", so a backfill keeps the same history as live traffic.
 *
 * Bounded: 90 days behind the newest attempt, at most `MAX_ATTEMPTS`
 * attempts (the oldest go first), `MAX_MARKS` disputes and warnings, so the
 * record stays far below KV's 64 KiB value limit.
 */
import { paidChargeSeen, type Transaction, type TxnSync } from "./transaction.ts";

export const HISTORY_SPAN_MS = 90 * 24 * 3600_000;
export const MAX_ATTEMPTS = 200;
export const MAX_MARKS = 20;

/** One charge attempt (or a PaymentIntent's attempt before its charge is seen). */
export interface Attempt {
  /** `ch_…`, or `pi:<id>:succeeded` (older records: `pi:<id>:<time>`, a charge-less failure) */
  k: string;
  /** transaction id */
  x: string;
  /** Stripe time, ms */
  t: number;
  /** `s` succeeded, `f` failed (declined) */
  o: "s" | "f";
  /** amount, minor units */
  a: number;
  c: string;
  /** card fingerprint */
  f: string | null;
  /** Stripe's risk level on the charge */
  r: string | null;
  /** when this entry last changed here (ms, the service's clock): what the sweep walks by */
  u: number;
}

/** A dispute or early fraud warning on one of the subject's payments. */
export interface Mark {
  k: string;
  x: string;
  t: number;
  /** early fraud warning: actionable; dispute: its reason */
  d: string;
  u: number;
}

export interface FraudHistory {
  subject: string;
  attempts: Attempt[];
  disputes: Mark[];
  warnings: Mark[];
  /** the last change (ms): the subject's row in the change index (`["fraud_changes", ms, subject]`) */
  changed_at: number;
}

export function emptyHistory(subject: string): FraudHistory {
  return { subject, attempts: [], disputes: [], warnings: [], changed_at: 0 };
}

/** The attempts, disputes and warnings a transaction's snapshots show (without `u`). */
export function historyFacts(sync: TxnSync, txn: Transaction) {
  const attempts: Omit<Attempt, "u">[] = [];
  for (const c of Object.values(sync.charges)) {
    // a payment is the money captured; an authorization counts once captured (README, "Fraud
    // detection"), never when released
    if (c.status !== "failed" && !(c.status === "succeeded" && c.captured)) continue;
    attempts.push({
      k: c.id,
      x: txn.id,
      t: c.created * 1000,
      o: c.status === "succeeded" ? "s" : "f",
      a: c.status === "succeeded" ? c.amount_captured : c.amount,
      c: c.currency,
      f: c.payment_method?.fingerprint ?? null,
      r: c.risk_level,
    });
  }
  const pi = sync.pi;
  // A decline the PaymentIntent tells of before its charge event; an attempt without a charge
  // (a failed 3-D Secure challenge) is not one: a later PaymentIntent state hides it, so it
  // would count or not by the order of the events (README "Fraud detection").
  const declined = pi?.error?.charge;
  if (pi?.error && declined && !sync.charges[declined]) {
    attempts.push({
      k: declined,
      x: txn.id,
      t: pi.order[1] * 1000,
      o: "f",
      a: pi.amount,
      c: pi.currency,
      f: pi.error.payment_method?.fingerprint ?? null,
      r: null,
    });
  }
  if (pi?.status === "succeeded" && !paidChargeSeen(sync)) {
    attempts.push({
      k: pi.latest_charge ?? `pi:${pi.id}:succeeded`,
      x: txn.id,
      t: pi.order[1] * 1000,
      o: "s",
      a: pi.amount_received || pi.amount,
      c: pi.currency,
      f: null,
      r: null,
    });
  }
  const disputes = Object.values(sync.disputes).map((d) => ({
    k: d.id,
    x: txn.id,
    t: d.created * 1000,
    d: d.reason,
  }));
  const warnings = Object.values(sync.efws).map((w) => ({
    k: w.id,
    x: txn.id,
    t: w.created * 1000,
    d: `${w.fraud_type}${w.actionable ? ":actionable" : ""}`,
  }));
  return { attempts, disputes, warnings };
}

function sameAttempt(a: Omit<Attempt, "u">, b: Attempt): boolean {
  return a.x === b.x && a.t === b.t && a.o === b.o && a.a === b.a && a.c === b.c &&
    a.f === b.f && a.r === b.r;
}

function upsert<T extends { k: string; t: number; u: number }>(
  list: T[],
  fresh: Omit<T, "u">[],
  same: (a: Omit<T, "u">, b: T) => boolean,
  now: number,
): { list: T[]; changed: boolean } {
  let changed = false;
  const byKey = new Map(list.map((e, i) => [e.k, i]));
  const out = list.slice();
  for (const f of fresh) {
    const i = byKey.get(f.k);
    if (i !== undefined && same(f, out[i])) continue;
    changed = true;
    const entry = { ...f, u: now } as T;
    if (i === undefined) {
      byKey.set(f.k, out.length);
      out.push(entry);
    } else out[i] = entry;
  }
  if (changed) out.sort((a, b) => a.t - b.t || (a.k < b.k ? -1 : 1));
  return { list: out, changed };
}

/**
 * A succeeded PaymentIntent counted before its charge was known (`pi:<id>:succeeded`)
 * that the transaction no longer shows: its charge counts now, under the charge's id.
 * Records kept before PaymentIntents listing their charges were read as such held both.
 */
function dropStandIns(
  a: { list: Attempt[]; changed: boolean },
  txn: Transaction,
  facts: { attempts: { k: string }[] },
): { list: Attempt[]; changed: boolean } {
  const stale = (e: Attempt) =>
    e.x === txn.id && e.k.startsWith("pi:") && e.k.endsWith(":succeeded") &&
    !facts.attempts.some((f) => f.k === e.k);
  if (!a.list.some(stale)) return a;
  return { list: a.list.filter((e) => !stale(e)), changed: true };
}

/**
 * The history after adding what the transaction shows, or null when nothing
 * changed. `now` stamps the entries that changed (the sweep's "changed since").
 */
export function planHistory(
  current: FraudHistory | null,
  subject: string,
  sync: TxnSync,
  txn: Transaction,
  now: number,
): FraudHistory | null {
  const prev = current ?? emptyHistory(subject);
  const facts = historyFacts(sync, txn);
  const a = dropStandIns(upsert(prev.attempts, facts.attempts, sameAttempt, now), txn, facts);
  const sameMark = (x: Omit<Mark, "u">, y: Mark) => x.t === y.t && x.d === y.d && x.x === y.x;
  const d = upsert(prev.disputes, facts.disputes, sameMark, now);
  const w = upsert(prev.warnings, facts.warnings, sameMark, now);
  if (!a.changed && !d.changed && !w.changed) return null;
  const newest = Math.max(
    a.list.at(-1)?.t ?? 0,
    d.list.at(-1)?.t ?? 0,
    w.list.at(-1)?.t ?? 0,
  );
  const oldest = newest - HISTORY_SPAN_MS;
  const keep = <T extends { t: number }>(list: T[], max: number) =>
    list.filter((e) => e.t > oldest).slice(-max);
  return {
    subject,
    attempts: keep(a.list, MAX_ATTEMPTS),
    disputes: keep(d.list, MAX_MARKS),
    warnings: keep(w.list, MAX_MARKS),
    changed_at: Math.max(now, prev.changed_at),
  };
}
