/**
 * Evaluating one subject: every enabled rule at each chosen payment (and at
 * each chosen dispute or early fraud warning), then the score from the
 * watch-level signals of the 24 h before each payment. Pure: the same
 * history and settings give the same signals, live, in a sweep, in a
 * backtest or in `POST /fraud/analyze`.
 *
 * A walk chooses the payments that changed; one delivered after later ones
 * (Stripe does not order its events) also changes the windows of those
 * later payments, which are evaluated again for the rules whose window
 * holds it, so any order raises what live traffic would (README "Fraud
 * detection").
 */
import type { RuleSettingsMap, Signal } from "../../domain/fraud.ts";
import type { Attempt, FraudHistory, Mark } from "../../domain/fraud_history.ts";
import { inTimeOrder, windowMs } from "./rules/common.ts";
import {
  COUNTING_RULES,
  disputeHistory,
  earlyFraudWarning,
  PAYMENT_RULES,
  type RuleInput,
  scoreRule,
  type WatchHit,
} from "./rules/mod.ts";

export interface SubjectInput {
  subject: string;
  history: FraudHistory | null;
  customerCreated: number | null;
}

export interface Evaluation {
  subject: string;
  /** every signal, watch and alert, shadow included */
  signals: Signal[];
  /** payments evaluated */
  evaluated: number;
  /** declined cards of a customer's evaluated payments, for the cross-customer check */
  declines: Decline[];
}

/** A declined payment of a customer; `reach`: the card's later declines count it too. */
export interface Decline {
  fingerprint: string;
  customer: string;
  t: number;
  /** the declined charge */
  k: string;
  x: string;
  reach: boolean;
}

export type Selection = {
  attempt: (a: Attempt) => boolean;
  mark: (m: Mark) => boolean;
  /** later entries whose windows hold a chosen one are evaluated again (a walk's changes) */
  reach?: boolean;
};

/** Entries changed at or after `since` (the service's clock, ms); all when null. */
export function changedSince(since: number | null): Selection {
  return since === null
    ? { attempt: () => true, mark: () => true }
    : { attempt: (a) => a.u >= since, mark: (m) => m.u >= since, reach: true };
}

/**
 * Whether a window of `window` ms closing at `t` holds one of `times` (in
 * ascending order): the window `(t - window, t]` of every rule.
 */
export function holdsAny(times: number[], t: number, window: number): boolean {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] > t) hi = mid;
    else lo = mid + 1;
  }
  return lo > 0 && times[lo - 1] > t - window;
}

/** Times of the chosen entries, ascending; null when nothing later could be reached. */
function chosenTimes<T extends { t: number }>(
  list: T[],
  chosen: (e: T) => boolean,
  reach: boolean | undefined,
): number[] | null {
  if (!reach) return null;
  const times = list.filter(chosen).map((e) => e.t).sort((a, b) => a - b);
  // nothing unchosen at or after the first chosen entry (in-order traffic): none to reach
  const from = times[0];
  return from !== undefined && list.some((e) => e.t >= from && !chosen(e)) ? times : null;
}

export function ofTransaction(txnId: string): Selection {
  return { attempt: (a) => a.x === txnId, mark: (m) => m.x === txnId };
}

/** Every enabled payment rule at `input.attempt`; `input.settings` is set to each rule's in turn. */
function paymentSignals(input: RuleInput, settings: RuleSettingsMap): Signal[] {
  const out: Signal[] = [];
  for (const [name, rule] of PAYMENT_RULES) {
    const s = settings[name];
    if (!s.enabled) continue;
    input.settings = s;
    const sig = rule(input);
    if (sig) out.push(sig);
  }
  return out;
}

export function evaluateSubject(
  input: SubjectInput,
  settings: RuleSettingsMap,
  pick: Selection,
): Evaluation {
  const out: Evaluation = { subject: input.subject, signals: [], evaluated: 0, declines: [] };
  const h = input.history;
  if (!h) return out;
  const first = h.attempts.find(pick.attempt);
  const base = {
    history: h,
    customerCreated: input.customerCreated,
    sorted: inTimeOrder(h.attempts),
  };
  // one input for every rule at every payment: the rules only read it
  const ruleInput: RuleInput = { ...base, attempt: h.attempts[0], settings: settings.score };
  const score = settings.score;
  const scoring = score.enabled && score.alert_at !== null;
  const scoreWindow = windowMs(score);
  const firstAt = first ? first.t - scoreWindow : Infinity;
  const late = reachOf(h.attempts, pick, settings);
  const watch: WatchHit[] = [];
  // the newest watch hit of a payment evaluated for its own sake: the score's windows holding it
  let freshAt = -Infinity;
  for (const attempt of h.attempts) {
    const isChosen = first !== undefined && pick.attempt(attempt);
    const reached = !isChosen && late !== null &&
      (holdsAny(late.times, attempt.t, late.horizon) ||
        (scoring && freshAt > attempt.t - scoreWindow));
    // payments before the first chosen one only matter for the score's window
    if (!isChosen && !reached && !(scoring && attempt.t > firstAt)) continue;
    ruleInput.attempt = attempt;
    const sigs = paymentSignals(ruleInput, settings);
    // a payment reached by a late one: only the rules whose window holds a changed payment
    const kept = isChosen ? sigs : reached ? sigs.filter((s) => late!.holds(attempt, s)) : [];
    for (const s of sigs) {
      if (s.level === "watch" && !s.shadow) {
        watch.push({ rule: s.rule, x: attempt.x, t: attempt.t, points: s.points });
        if (kept.includes(s)) freshAt = Math.max(freshAt, attempt.t);
      }
    }
    if (!isChosen && !reached) continue;
    out.evaluated++;
    out.signals.push(...kept);
    if (scoring && (isChosen || freshAt > attempt.t - scoreWindow)) {
      const sig = scoreRule({ ...base, attempt, settings: score }, watch);
      if (sig) out.signals.push(sig);
    }
    if (isChosen && attempt.o === "f" && attempt.f && !input.subject.startsWith("card:")) {
      out.declines.push({
        fingerprint: attempt.f,
        customer: input.subject,
        t: attempt.t,
        k: attempt.k,
        x: attempt.x,
        reach: pick.reach === true,
      });
    }
  }
  if (settings.early_fraud_warning.enabled) {
    for (const mark of h.warnings.filter(pick.mark)) {
      const s = earlyFraudWarning({ mark, history: h, settings: settings.early_fraud_warning });
      if (s) out.signals.push(s);
    }
  }
  if (settings.dispute_history.enabled) {
    const s = settings.dispute_history;
    const times = chosenTimes(h.disputes, pick.mark, pick.reach);
    for (const mark of h.disputes) {
      if (!pick.mark(mark) && !(times && holdsAny(times, mark.t, windowMs(s)))) continue;
      const sig = disputeHistory({ mark, history: h, settings: s });
      if (sig) out.signals.push(sig);
    }
  }
  return out;
}

/**
 * The later payments a walk's changed ones reach: `times` of the changed
 * payments, `horizon` the longest window of a rule counting payments, and
 * whether a signal at a reached payment is one whose window holds a change.
 */
function reachOf(attempts: Attempt[], pick: Selection, settings: RuleSettingsMap) {
  const times = chosenTimes(attempts, pick.attempt, pick.reach);
  if (!times) return null;
  const windows = new Map(
    [...COUNTING_RULES].filter((r) => settings[r].enabled).map((r) => [r, windowMs(settings[r])]),
  );
  const horizon = Math.max(0, ...windows.values());
  return {
    times,
    horizon,
    holds: (attempt: Attempt, s: Signal) => {
      const w = windows.get(s.rule);
      return w !== undefined && holdsAny(times, attempt.t, w);
    },
  };
}

/**
 * Whether evaluating `pick`'s payments of `h` could need when the customer
 * was created: only a succeeded payment at or above new_customer_high_value's
 * smallest amount in its currency can.
 */
export function needsCustomerAge(settings: RuleSettingsMap, pick: Selection) {
  const s = settings.new_customer_high_value;
  return (h: FraudHistory): boolean => {
    if (!s.enabled) return false;
    return h.attempts.some((a) => {
      if (a.o !== "s" || !pick.attempt(a)) return false;
      const min = Math.min(s.amounts[a.c] ?? Infinity, s.watch_amounts[a.c] ?? Infinity);
      return a.a >= min;
    });
  };
}
