/**
 * What an alert has judged (README "Fraud detection", Alerts): the things
 * its rule counted at each of its hits. A per-payment rule counts its one
 * payment; a windowed rule a set (velocity: the window's payments; churn:
 * the cards; the score: the payments whose watch points make it; a card
 * declined across customers: the customers; disputes: the disputes). Once an
 * alert is resolved, a signal made only of what an alert of the same subject
 * and rule has judged raises nothing: evaluating the same payments again (the
 * customer's next payment, a sweep over history) is not a new signal, a new
 * payment, card or customer the rule counts is.
 */
import type { FraudAlert, Signal } from "../../domain/fraud.ts";
import { addJudged, judgedOf } from "../../kv/fraud.ts";
import { keys } from "../../kv/keys.ts";
import { KV_BATCH } from "../../core/kv_limits.ts";

function strings(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : null;
}

/** The things `s` counted (its evidence names at most 20 of each, the newest). */
export function judgedItems(s: Signal): string[] {
  const e = s.evidence;
  const own = [s.transaction_id ?? s.at];
  switch (s.rule) {
    case "payment_method_churn":
      return strings(e.card_fingerprints)?.map((f) => `card:${f}`) ?? own;
    case "dispute_history":
      return strings(e.dispute_ids)?.map((d) => `dispute:${d}`) ?? own;
    case "failed_attempts":
      // a card declined across customers counts customers; a customer's declines, payments
      if (typeof e.card_fingerprint === "string") {
        return strings(e.customers)?.map((c) => `customer:${c}`) ?? own;
      }
      return strings(e.transactions) ?? own;
    default:
      return strings(e.transactions) ?? own;
  }
}

/**
 * The signals of one rule that are not wholly judged by an alert of
 * `subject` and that rule (for when no alert of it is open).
 */
export async function notJudged(
  kv: Deno.Kv,
  subject: string,
  rule: string,
  signals: Signal[],
): Promise<Signal[]> {
  const items = signals.map(judgedItems);
  const judged = await judgedOf(kv, subject, rule, items.flat());
  return signals.filter((_, i) => items[i].some((x) => !judged.has(x)));
}

/**
 * Alerts stored before what they judged was recorded (`fraudJudged`): their
 * hits are recorded now, so a resolved one does not come back for the same
 * payments. Runs once per store (main.ts, before serving); every hit since is
 * recorded as it is made. Returns the alerts it recorded.
 */
export async function backfillJudged(kv: Deno.Kv): Promise<number> {
  if ((await kv.get<true>(keys.fraudJudgedBackfilled())).value) return 0;
  let alerts = 0;
  for await (const { value: alert } of kv.list<FraudAlert>({ prefix: keys.fraudAlertsPrefix() })) {
    const items = new Set(alert.signals.flatMap(judgedItems));
    // the hits beyond the kept signals are still recorded per transaction
    for await (const hit of kv.list({ prefix: keys.fraudAlertHitsPrefix(alert.id) })) {
      items.add(String(hit.key[2]));
    }
    // unchecked sets of what is true whatever else changes: a later hit adds, never removes
    const all = [...items];
    for (let i = 0; i < all.length; i += KV_BATCH.mutations) {
      const op = kv.atomic();
      addJudged(op, alert.subject, alert.rule, all.slice(i, i + KV_BATCH.mutations), alert.id);
      if (!(await op.commit()).ok) {
        throw new Error(`recording what alert ${alert.id} judged failed`);
      }
    }
    alerts++;
  }
  await kv.set(keys.fraudJudgedBackfilled(), true);
  return alerts;
}
