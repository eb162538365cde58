/**
 * Evaluating one subject: every enabled rule at each chosen payment (and at
 * each chosen dispute or early fraud warning), then the score from the
 * watch-level signals of the 24 h before each payment. Pure: the same
 * history and settings give the same signals, live, in a sweep, in a
 * backtest or in `POST /fraud/analyze`.
 */
import type { RuleSettingsMap, Signal } from "../../domain/fraud.ts";
import type { Attempt, FraudHistory, Mark } from "../../domain/fraud_history.ts";
import { inTimeOrder } from "./rules/common.ts";
import {
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
  declines: { fingerprint: string; customer: string; t: number; x: string }[];
}

export type Selection = { attempt: (a: Attempt) => boolean; mark: (m: Mark) => boolean };

/** Entries changed at or after `since` (the service's clock, ms); all when null. */
export function changedSince(since: number | null): Selection {
  return since === null
    ? { attempt: () => true, mark: () => true }
    : { attempt: (a) => a.u >= since, mark: (m) => m.u >= since };
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
  const firstAt = first ? first.t - score.window_minutes * 60_000 : Infinity;
  const watch: WatchHit[] = [];
  for (const attempt of h.attempts) {
    const isChosen = first !== undefined && pick.attempt(attempt);
    // payments before the first chosen one only matter for the score's window
    if (!isChosen && !(scoring && attempt.t > firstAt)) continue;
    ruleInput.attempt = attempt;
    const sigs = paymentSignals(ruleInput, settings);
    for (const s of sigs) {
      if (s.level === "watch" && !s.shadow) {
        watch.push({ rule: s.rule, x: attempt.x, t: attempt.t, points: s.points });
      }
    }
    if (!isChosen) continue;
    out.evaluated++;
    out.signals.push(...sigs);
    if (scoring) {
      const sig = scoreRule({ ...base, attempt, settings: score }, watch);
      if (sig) out.signals.push(sig);
    }
    if (attempt.o === "f" && attempt.f && !input.subject.startsWith("card:")) {
      out.declines.push({
        fingerprint: attempt.f,
        customer: input.subject,
        t: attempt.t,
        x: attempt.x,
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
    for (const mark of h.disputes.filter(pick.mark)) {
      const s = disputeHistory({ mark, history: h, settings: settings.dispute_history });
      if (s) out.signals.push(s);
    }
  }
  return out;
}

/**
 * Whether evaluating `pick`'s payments of `h` could need when the customer
 * was created: only a payment at or above new_customer_high_value's smallest
 * amount in its currency can.
 */
export function needsCustomerAge(settings: RuleSettingsMap, pick: Selection) {
  const s = settings.new_customer_high_value;
  return (h: FraudHistory): boolean => {
    if (!s.enabled) return false;
    return h.attempts.some((a) => {
      if (!pick.attempt(a)) return false;
      const min = Math.min(s.amounts[a.c] ?? Infinity, s.watch_amounts[a.c] ?? Infinity);
      return a.a >= min;
    });
  };
}
