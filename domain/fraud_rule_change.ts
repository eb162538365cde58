/**
 * A change to a fraud rule's settings, judged before it is applied: which of
 * its fields loosen the rule (README "Two-person rules": a change that can
 * only make it raise fewer alerts or fewer points waits for a second admin,
 * `fraud.rule_loosen`), and which settings would contradict each other
 * (README "Tuning": refused, naming the field).
 */
import type { FieldError } from "../core/errors.ts";
import { MAX_WINDOW_MINUTES, type RuleSettings, SEVERITIES } from "./fraud.ts";

/** The settings a change may set (`PUT /fraud/rules/{rule}`). */
export type RuleChange = Partial<
  Omit<RuleSettings, "rule" | "version" | "updated_at" | "updated_by">
>;

/** A threshold that is off (null) is never reached. */
const threshold = (v: number | null) => v ?? Infinity;

/**
 * `extra_at` as the rules read it: failed_attempts and score are off without
 * it (no cross-customer alert, never critical); amount_anomaly then needs 3
 * earlier payments.
 */
function extraAt(s: RuleSettings, v: number | null): number {
  return v ?? (s.rule === "amount_anomaly" ? 3 : Infinity);
}

/** An amount map loosens when a currency's amount is raised or removed. */
function amountsRaised(before: Record<string, number>, after: Record<string, number>): boolean {
  return Object.entries(before).some(([c, a]) => after[c] === undefined || after[c] > a);
}

/**
 * The fields of `change` that loosen the rule: thresholds raised or switched
 * off, points lowered, amounts raised or removed, the window shortened, the
 * severity lowered, `extra_at` raised, `min_ratio` raised (none is stricter).
 * Disabling and shadow mode are judged on their own (their own kinds).
 */
export function loosenedFields(current: RuleSettings, change: RuleChange): string[] {
  const out: string[] = [];
  const c = change;
  if (c.watch_at !== undefined && threshold(c.watch_at) > threshold(current.watch_at)) {
    out.push("watch_at");
  }
  if (c.alert_at !== undefined && threshold(c.alert_at) > threshold(current.alert_at)) {
    out.push("alert_at");
  }
  if (c.watch_points !== undefined && c.watch_points < current.watch_points) {
    out.push("watch_points");
  }
  if (c.alert_points !== undefined && c.alert_points < current.alert_points) {
    out.push("alert_points");
  }
  if (c.window_minutes !== undefined && c.window_minutes < current.window_minutes) {
    out.push("window_minutes");
  }
  if (
    c.severity !== undefined &&
    SEVERITIES.indexOf(c.severity) < SEVERITIES.indexOf(current.severity)
  ) out.push("severity");
  if (c.amounts !== undefined && amountsRaised(current.amounts, c.amounts)) out.push("amounts");
  if (c.watch_amounts !== undefined && amountsRaised(current.watch_amounts, c.watch_amounts)) {
    out.push("watch_amounts");
  }
  if (
    c.extra_at !== undefined && extraAt(current, c.extra_at) > extraAt(current, current.extra_at)
  ) {
    out.push("extra_at");
  }
  if (c.min_ratio !== undefined && (c.min_ratio ?? 0) > (current.min_ratio ?? 0)) {
    out.push("min_ratio");
  }
  return out;
}

/**
 * The thresholds of `rule` that are counts (README "Rules and their
 * defaults": payments, declines, cards, customers, disputes, earlier
 * payments, points), so whole numbers: every rule's `extra_at`, and the
 * watch and alert levels of all but amount_anomaly, whose are a robust z.
 */
function countFields(rule: RuleSettings["rule"]): ("watch_at" | "alert_at" | "extra_at")[] {
  return rule === "amount_anomaly" ? ["extra_at"] : ["watch_at", "alert_at", "extra_at"];
}

/** A count threshold `change` sets to a fraction (or an amount not in whole minor units). */
function wholeNumberErrors(rule: RuleSettings["rule"], change: RuleChange): FieldError[] {
  const errors: FieldError[] = [];
  for (const field of countFields(rule)) {
    const v = change[field];
    if (typeof v === "number" && !Number.isInteger(v)) {
      errors.push({
        path: `body.${field}`,
        message: `${field} must be a whole number: ${rule} counts at this level (${v} given)`,
      });
    }
  }
  for (const field of ["amounts", "watch_amounts"] as const) {
    for (const [cur, a] of Object.entries(change[field] ?? {})) {
      if (!Number.isInteger(a)) {
        errors.push({
          path: `body.${field}.${cur}`,
          message: `amounts are whole minor units (${a} given for ${cur})`,
        });
      }
    }
  }
  return errors;
}

/** The settings a change may name, whatever the rule. */
type ChangeField = keyof RuleChange;

/** Every rule's switches. */
const SWITCHES: ChangeField[] = ["enabled", "shadow"];
/** A rule counting something in a window, at a watch and an alert level. */
const COUNTING: ChangeField[] = [
  ...SWITCHES,
  "window_minutes",
  "watch_at",
  "watch_points",
  "alert_at",
  "alert_points",
  "severity",
];

/**
 * The settings each rule uses (README "Fraud detection", Rules and their
 * defaults, Tuning): new_customer_high_value's levels are its amounts (the
 * window is the customer's age), stripe_risk's Stripe's risk level (no
 * window), an early fraud warning is always an alert, and the score's points
 * are the score, its severity high or critical from `extra_at`.
 */
export const RULE_FIELDS: Record<RuleSettings["rule"], readonly ChangeField[]> = {
  payment_method_churn: COUNTING,
  high_value_burst: [...COUNTING, "amounts"],
  velocity: COUNTING,
  failed_attempts: [...COUNTING, "extra_at"],
  new_customer_high_value: [
    ...SWITCHES,
    "window_minutes",
    "watch_points",
    "alert_points",
    "severity",
    "amounts",
    "watch_amounts",
  ],
  amount_anomaly: [...COUNTING, "extra_at", "min_ratio"],
  stripe_risk: [...SWITCHES, "watch_points", "alert_points", "severity"],
  early_fraud_warning: [...SWITCHES, "alert_points", "severity"],
  dispute_history: COUNTING,
  score: [...SWITCHES, "window_minutes", "alert_at", "extra_at"],
};

/** Fields of `change` that `rule` does not use: a change of them would change nothing it does. */
function unusedFieldErrors(rule: RuleSettings["rule"], change: RuleChange): FieldError[] {
  const used = RULE_FIELDS[rule];
  return (Object.keys(change) as ChangeField[])
    .filter((f) => change[f] !== undefined && !used.includes(f))
    .map((f) => ({
      path: `body.${f}`,
      message: `${rule} does not use ${f}; its settings are ${used.join(", ")}`,
    }));
}

/**
 * Settings `change` would leave contradicting each other (one of the two
 * fields in the change; the error names it), or that the rule does not use
 * (`RULE_FIELDS`): an alert level below the watch
 * level, a watch amount above the alert amount, the score's critical level
 * below its alert level; and a count threshold with a fraction
 * (`wholeNumberErrors`) or a window longer than `MAX_WINDOW_MINUTES`, also
 * checked as an approved change applies.
 */
export function ruleChangeErrors(current: RuleSettings, change: RuleChange): FieldError[] {
  // a setting the rule does not use is refused on its own (nothing to compare it with)
  const unused = unusedFieldErrors(current.rule, change);
  if (unused.length) return unused;
  const next = { ...current, ...change };
  const errors: FieldError[] = wholeNumberErrors(current.rule, change);
  if (change.window_minutes !== undefined && change.window_minutes > MAX_WINDOW_MINUTES) {
    // what an alert judged is kept for this longest window (README "Fraud detection", Alerts)
    errors.push({ path: "body.window_minutes", message: "window_minutes is at most 90 days" });
  }
  // a fraction is refused on its own: compared with the other levels it would only add noise
  if (errors.length) return errors;
  const named = (a: keyof RuleChange, b: keyof RuleChange) =>
    change[a] !== undefined ? a : change[b] !== undefined ? b : null;
  if (next.watch_at !== null && next.alert_at !== null && next.alert_at < next.watch_at) {
    const field = named("alert_at", "watch_at");
    if (field) {
      errors.push({
        path: `body.${field}`,
        message: `alert_at (${next.alert_at}) must be at least watch_at (${next.watch_at})`,
      });
    }
  }
  for (const [cur, watch] of Object.entries(next.watch_amounts)) {
    const alert = next.amounts[cur];
    if (alert === undefined || watch <= alert) continue;
    const field = named("watch_amounts", "amounts");
    if (field) {
      errors.push({
        path: `body.${field}.${cur}`,
        message:
          `the watch amount for ${cur} (${watch}) must be at most its alert amount (${alert})`,
      });
    }
  }
  if (
    current.rule === "score" && next.extra_at !== null && next.alert_at !== null &&
    next.extra_at < next.alert_at
  ) {
    const field = named("extra_at", "alert_at");
    if (field) {
      errors.push({
        path: `body.${field}`,
        message: `the score is critical from extra_at (${next.extra_at}), which must be at ` +
          `least its alert_at (${next.alert_at})`,
      });
    }
  }
  return errors;
}

/**
 * Disabling a rule or putting it in shadow mode is asked for on its own (README "Tuning"): the
 * second admin approves a pause, and settings riding along would outlive it (turning the rule
 * back on is immediate). Refused on the `PUT` and, the same, in a backtest's `rules`.
 */
export function pauseErrors(current: RuleSettings, change: RuleChange): FieldError[] {
  const pausing = (change.enabled === false && current.enabled) ||
    (change.shadow === true && !current.shadow);
  if (!pausing) return [];
  const others = Object.keys(change).filter((k) =>
    k !== "enabled" && k !== "shadow" && change[k as keyof RuleChange] !== undefined
  );
  return others.map((k) => ({
    path: `body.${k}`,
    message: "disabling a rule or putting it in shadow mode is a change of its own: send " +
      `${k} in a separate PUT (which a second admin approves too if it loosens the rule)`,
  }));
}
