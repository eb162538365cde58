/**
 * Detection over a set of subjects: evaluate (engine.ts), then either raise
 * (live: ingest jobs and sweeps) or only collect (analyze, backtest). The
 * cross-customer card check runs on the declines the evaluated payments show.
 */
import type { CallContext } from "../../domain/actor.ts";
import { cardSubject, type RuleSettingsMap, type Signal } from "../../domain/fraud.ts";
import { listCardDeclines, type SubjectState } from "../../kv/fraud.ts";
import { type Decline, type Evaluation, holdsAny } from "./engine.ts";
import {
  type CardDecline,
  cardDeclinedAcrossCustomers,
  CROSS_CUSTOMER_WINDOW_MS,
} from "./rules/mod.ts";
import { type RaiseDeps, recordShadow } from "./alerts.ts";
import { raiseGroup, type RaiseItem } from "./raise_group.ts";

export interface CardEvaluation {
  fingerprint: string;
  signals: Signal[];
  customers: string[];
}

/** A bounded picture of what the rule saw: the subject's payments of the 24 h before the hit. */
export function snapshotOf(state: SubjectState, s: Signal): Record<string, unknown> {
  const at = Date.parse(s.at);
  const recent = (state.history?.attempts ?? [])
    .filter((a) => a.t > at - 24 * 3600_000 && a.t <= at)
    .slice(-20)
    .map((a) => ({
      charge: a.k,
      transaction: a.x,
      at: new Date(a.t).toISOString(),
      outcome: a.o === "s" ? "succeeded" : "failed",
      amount: a.a,
      currency: a.c,
      card: a.f,
      risk_level: a.r,
    }));
  return {
    subject: state.subject,
    customer_created: state.customerCreated === null
      ? null
      : new Date(state.customerCreated).toISOString(),
    payments_in_history: state.history?.attempts.length ?? 0,
    disputes_in_history: state.history?.disputes.length ?? 0,
    last_24h: recent,
  };
}

/** A card's declines with Stripe time in `[from, to]`, in key order (as `listCardDeclines`). */
export type DeclineReader = (
  fingerprint: string,
  from: number,
  to: number,
) => Promise<CardDecline[]>;

/** Declines already read (`readAllCardDeclines`), answered without a read each. */
export function declinesFrom(all: Map<string, CardDecline[]>): DeclineReader {
  return (fingerprint, from, to) =>
    Promise.resolve((all.get(fingerprint) ?? []).filter((d) => d.t >= from && d.t <= to));
}

/**
 * The cross-customer check for the cards declined in `evals`: at each of
 * their declines, and, for a walk's changes, at each later decline of the
 * card whose 24 h window holds one of them (a decline delivered late counts
 * there too, as it would have live).
 */
export async function evaluateCards(
  kv: Deno.Kv,
  evals: Evaluation[],
  settings: RuleSettingsMap,
  read: DeclineReader = (fp, from, to) => listCardDeclines(kv, fp, from, to),
): Promise<CardEvaluation[]> {
  const s = settings.failed_attempts;
  if (!s.enabled || s.extra_at === null) return [];
  const byCard = new Map<string, Decline[]>();
  for (const e of evals) {
    for (const d of e.declines) {
      byCard.set(d.fingerprint, [...(byCard.get(d.fingerprint) ?? []), d]);
    }
  }
  const out: CardEvaluation[] = [];
  // one at a time: on a local file the reads queue on one SQLite thread, and read together
  // they took longer than in turn
  for (const [fingerprint, mine] of byCard) {
    const card = await checkCard(read, fingerprint, mine, s.extra_at, s);
    if (card) out.push(card);
  }
  return out;
}

/**
 * The cross-customer check of one card's subject (`card:<fingerprint>`, analyze): at each of its
 * declines kept (those of its customers, 48 h), as the walks check it at each of them when they
 * evaluate the customer the decline was for.
 */
export async function evaluateCardSubject(
  kv: Deno.Kv,
  fingerprint: string,
  settings: RuleSettingsMap,
): Promise<CardEvaluation[]> {
  const s = settings.failed_attempts;
  if (!s.enabled || s.extra_at === null) return [];
  const kept = await listCardDeclines(kv, fingerprint, 0, Number.MAX_SAFE_INTEGER - 1);
  if (kept.length === 0) return [];
  const mine = kept.map((d) => ({ ...d, fingerprint, reach: false }));
  const card = await checkCard(
    declinesFrom(new Map([[fingerprint, kept]])),
    fingerprint,
    mine,
    s.extra_at,
    s,
  );
  return card ? [card] : [];
}

async function checkCard(
  read: DeclineReader,
  fingerprint: string,
  mine: Decline[],
  extraAt: number,
  s: RuleSettingsMap["failed_attempts"],
): Promise<CardEvaluation | null> {
  const times = mine.map((d) => d.t).sort((a, b) => a - b);
  const reach = mine.some((d) => d.reach);
  const from = times[0] - CROSS_CUSTOMER_WINDOW_MS;
  const to = times.at(-1)! + (reach ? CROSS_CUSTOMER_WINDOW_MS - 1 : 0);
  const all = (await read(fingerprint, from, to)).sort(byDecline);
  if (new Set(all.map((d) => d.customer)).size < extraAt) return null;
  // the declines whose window holds one of mine (mine included), each once
  const at = new Map<string, CardDecline>();
  for (const d of mine) at.set(`${d.k}|${d.t}|${d.customer}`, d);
  if (reach) {
    for (const d of all) {
      if (holdsAny(times, d.t, CROSS_CUSTOMER_WINDOW_MS)) at.set(`${d.k}|${d.t}|${d.customer}`, d);
    }
  }
  const signals: Signal[] = [];
  const customers = new Set<string>();
  // in Stripe time, never in the order the subjects were walked (which follows the order their
  // events arrived in): the alert's hits, its customers and its snapshot come out the same
  for (const d of [...at.values()].sort(byDecline)) {
    const sig = cardDeclinedAcrossCustomers(fingerprint, d, all, s);
    if (!sig) continue;
    signals.push(sig);
    for (const e of all) {
      if (e.t > d.t - CROSS_CUSTOMER_WINDOW_MS && e.t <= d.t) customers.add(e.customer);
    }
  }
  if (signals.length === 0) return null;
  return { fingerprint, signals, customers: [...customers] };
}

/** Declines in key order (kv/fraud.ts): Stripe time, customer, charge (never our own ids). */
function byDecline(a: CardDecline, b: CardDecline): number {
  return a.t - b.t || compare(a.customer, b.customer) || compare(a.k, b.k);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface DetectResult {
  evaluated: number;
  raised: number;
  hits: number;
  shadow: number;
  alerts: string[];
}

/**
 * After evaluation (engine.ts `evaluateSubject`, one per state, in order):
 * the cross-customer card check on `evals`, then what fires raised. Apart
 * from evaluating, so a walk can evaluate its next batch while this one's
 * reads and commits are under way.
 */
export async function raiseEvaluated(
  d: RaiseDeps,
  ctx: CallContext,
  states: SubjectState[],
  evals: Evaluation[],
  settings: RuleSettingsMap,
  declines?: DeclineReader,
): Promise<DetectResult> {
  const result: DetectResult = { evaluated: 0, raised: 0, hits: 0, shadow: 0, alerts: [] };
  const items: RaiseItem[] = [];
  for (const [i, state] of states.entries()) {
    const e = evals[i];
    result.evaluated += e.evaluated;
    if (e.signals.length === 0) continue;
    const isCard = state.subject.startsWith("card:");
    items.push({
      target: {
        subject: state.subject,
        customer: isCard ? null : state.subject,
        card_fingerprint: isCard ? state.subject.slice(5) : null,
        customers: [],
      },
      signals: e.signals,
      snapshotOf: (s) => snapshotOf(state, s),
    });
  }
  for (const card of await evaluateCards(d.kv, evals, settings, declines)) {
    items.push({
      target: {
        subject: cardSubject(card.fingerprint),
        customer: null,
        card_fingerprint: card.fingerprint,
        customers: card.customers,
      },
      signals: card.signals,
      snapshotOf: (s) => ({ card_fingerprint: card.fingerprint, evidence: s.evidence }),
    });
  }
  const shadows = await Promise.all(
    items.map((it) => recordShadow(d.kv, it.target.subject, it.signals)),
  );
  result.shadow = shadows.reduce((a, b) => a + b, 0);
  add(result, await raiseGroup(d, ctx, items));
  return result;
}

function add(into: DetectResult, r: { raised: number; hits: number; alerts: string[] }) {
  into.raised += r.raised;
  into.hits += r.hits;
  into.alerts.push(...r.alerts);
}
