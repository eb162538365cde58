/**
 * Fraud detection's vocabulary: the rules and their settings (with the
 * defaults the README lists), signals, alerts, snoozes and sweep runs.
 * Pure types and data; the rules themselves live in services/fraud/rules/.
 */

export const RULE_NAMES = [
  "payment_method_churn",
  "high_value_burst",
  "velocity",
  "failed_attempts",
  "new_customer_high_value",
  "amount_anomaly",
  "stripe_risk",
  "early_fraud_warning",
  "dispute_history",
  "score",
] as const;
export type RuleName = typeof RULE_NAMES[number];

export const SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type Severity = typeof SEVERITIES[number];
export type Level = "watch" | "alert";

/**
 * One rule's settings. Counts (`watch_at`, `alert_at`) are what the rule
 * counts in its window (payments, cards, declines, a robust z, disputes, the
 * score). Amounts are per currency in minor units; a currency the map does
 * not name leaves the amount rules off for it.
 */
export interface RuleSettings {
  rule: RuleName;
  version: number;
  enabled: boolean;
  /** evaluated and recorded, no alert raised */
  shadow: boolean;
  window_minutes: number;
  watch_at: number | null;
  watch_points: number;
  alert_at: number | null;
  alert_points: number;
  /** the severity an alert of this rule gets (the score rule: at `alert_at`) */
  severity: Severity;
  /** high_value_burst: the high-value amount; new_customer_high_value: the alert amount */
  amounts: Record<string, number>;
  /** new_customer_high_value: the watch amount */
  watch_amounts: Record<string, number>;
  /** failed_attempts: customers one card is declined for (cross-customer alert); score: critical at */
  extra_at: number | null;
  /**
   * amount_anomaly: the amount must also be at least this many times the
   * median (README: with three earlier payments the MAD is the smaller of two
   * gaps, so the z-score alone flags ordinary spread)
   */
  min_ratio: number | null;
  updated_at: string | null;
  updated_by: string | null;
}

export type RuleSettingsMap = Record<RuleName, RuleSettings>;

/**
 * The longest window a rule can be given (`PUT /fraud/rules/{rule}` refuses a
 * longer one, and so does an approved change as it applies): as long as the
 * history the rules count in is kept (domain/fraud_history.ts). What an alert
 * has judged is kept at least this long after the payment (README "Fraud
 * detection", Alerts).
 */
export const MAX_WINDOW_MINUTES = 90 * 24 * 60;

const SAME_FIVE = ["usd", "eur", "gbp", "cad", "aud"];
function perCurrency(major: number, jpy: number): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(SAME_FIVE.map((c) => [c, major]));
  out.jpy = jpy;
  return out;
}

const H = 60;
const D = 24 * H;

function base(rule: RuleName, over: Partial<RuleSettings>): RuleSettings {
  return {
    rule,
    version: 1,
    enabled: true,
    shadow: false,
    window_minutes: D,
    watch_at: null,
    watch_points: 0,
    alert_at: null,
    alert_points: 0,
    severity: "medium",
    amounts: {},
    watch_amounts: {},
    extra_at: null,
    min_ratio: null,
    updated_at: null,
    updated_by: null,
    ...over,
  };
}

/** The defaults; README "Fraud detection" lists them. */
export function defaultRuleSettings(): RuleSettingsMap {
  return {
    payment_method_churn: base("payment_method_churn", {
      watch_at: 3,
      watch_points: 20,
      alert_at: 5,
      alert_points: 40,
      severity: "high",
    }),
    high_value_burst: base("high_value_burst", {
      watch_at: 2,
      watch_points: 15,
      alert_at: 3,
      alert_points: 35,
      amounts: perCurrency(50_000, 75_000),
    }),
    velocity: base("velocity", {
      window_minutes: 30,
      watch_at: 7,
      watch_points: 25,
      alert_at: 10,
      alert_points: 50,
      severity: "high",
    }),
    failed_attempts: base("failed_attempts", {
      window_minutes: 6 * H,
      watch_at: 5,
      watch_points: 15,
      alert_at: 8,
      alert_points: 30,
      extra_at: 3,
    }),
    new_customer_high_value: base("new_customer_high_value", {
      watch_at: 1,
      watch_points: 20,
      alert_at: 1,
      alert_points: 45,
      amounts: perCurrency(20_000, 30_000),
      watch_amounts: perCurrency(10_000, 15_000),
    }),
    amount_anomaly: base("amount_anomaly", {
      window_minutes: 90 * D,
      watch_at: 4,
      watch_points: 10,
      alert_at: 5,
      alert_points: 25,
      severity: "low",
      extra_at: 3,
      min_ratio: 3,
    }),
    stripe_risk: base("stripe_risk", {
      watch_points: 20,
      alert_points: 40,
      severity: "high",
    }),
    early_fraud_warning: base("early_fraud_warning", {
      window_minutes: 90 * D,
      alert_points: 0,
      severity: "high",
    }),
    dispute_history: base("dispute_history", {
      window_minutes: 90 * D,
      alert_at: 2,
      alert_points: 30,
    }),
    score: base("score", { alert_at: 60, extra_at: 80, severity: "high" }),
  };
}

/** Evidence is small by construction: counts, the window, a few amounts and ids. */
export interface Signal {
  rule: RuleName;
  level: Level;
  points: number;
  severity: Severity;
  /** the payment the rule was evaluated at (the last one that made it fire) */
  transaction_id: string | null;
  /** Stripe time of that payment (ISO 8601) */
  at: string;
  rule_version: number;
  shadow: boolean;
  evidence: Record<string, unknown>;
}

export const ALERT_STATUSES = [
  "open",
  "investigating",
  "resolved_fraud",
  "resolved_legitimate",
  "escalated",
] as const;
export type AlertStatus = typeof ALERT_STATUSES[number];

/** Where an alert may go from each status (README "Fraud detection: workflow"). */
export const ALERT_TRANSITIONS: Record<AlertStatus, AlertStatus[]> = {
  open: ["investigating"],
  investigating: ["resolved_fraud", "resolved_legitimate", "escalated"],
  escalated: ["investigating"],
  resolved_fraud: [],
  resolved_legitimate: [],
};

export function isClosedStatus(s: AlertStatus): boolean {
  return s === "resolved_fraud" || s === "resolved_legitimate";
}

/** An alert keeps this many history entries, the latest. */
export const ALERT_MAX_HISTORY = 50;

/** An alert keeps this many hits (and a count of all). */
export const ALERT_MAX_HITS = 50;

export interface AlertHistoryEntry {
  at: string;
  by: string;
  from: AlertStatus | null;
  to: AlertStatus;
  assignee: string | null;
  note: string | null;
}

export interface FraudAlert {
  id: string;
  /** `cus_…`, or `card:<fingerprint>` for a card seen without a customer or across customers */
  subject: string;
  customer: string | null;
  card_fingerprint: string | null;
  /** the cross-customer card-testing alert: the customers the card was declined for */
  customers: string[];
  rule: RuleName;
  rule_version: number;
  severity: Severity;
  score: number;
  status: AlertStatus;
  assignee: string | null;
  /** the last `ALERT_MAX_HITS` hits, oldest first */
  signals: Signal[];
  hit_count: number;
  /** transactions of the kept hits */
  transactions: string[];
  /** the inputs the rule saw at the last hit, bounded (services/fraud/alerts.ts) */
  snapshot: Record<string, unknown>;
  resolution_note: string | null;
  history: AlertHistoryEntry[];
  refunds: string[];
  created_at: string;
  updated_at: string;
}

export interface Snooze {
  id: string;
  customer: string;
  rule: RuleName;
  until: string;
  note: string;
  created_by: string;
  created_at: string;
}

export interface SweepRun {
  id: string;
  trigger: "cron" | "manual" | "test";
  /** the admin who started a manual run (null for cron); absent on runs recorded before */
  started_by?: string | null;
  started_at: string;
  /**
   * the walk covers payment changes up to this time; later ones (the last few
   * seconds, still in flight) wait for the next walk. Absent on runs recorded before.
   */
  changes_until?: string;
  finished_at: string | null;
  status: "running" | "finished" | "failed";
  /** subjects (customers, cards) read */
  subjects: number;
  /** payments evaluated */
  scanned: number;
  alerts_raised: number;
  hits_added: number;
  /** the change index position it started from and has reached (opaque JSON) */
  cursor_from: string | null;
  cursor: string | null;
  errors: string[];
}

/** The subject of a payment: its customer, or its card when it has none. */
export function subjectOf(customer: string | null, fingerprint: string | null): string | null {
  if (customer) return customer;
  return fingerprint ? `card:${fingerprint}` : null;
}

export function cardSubject(fingerprint: string): string {
  return `card:${fingerprint}`;
}
