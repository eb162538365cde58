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
 *
 * For a bounded time (`judgedUntil`): windows close at a payment's own Stripe
 * time and are at most `MAX_WINDOW_MINUTES` long, so a payment is counted
 * only by payments at most that much later; the margin covers those counted
 * late (Stripe's three days of retries, a capture within an authorization's
 * life, a backfill after an outage). Then KV drops the record.
 */
import type { Clock } from "../../core/clock.ts";
import { type FraudAlert, MAX_WINDOW_MINUTES, type Signal } from "../../domain/fraud.ts";
import { addJudged, type JudgedRow, judgedRowsOf } from "../../kv/fraud.ts";
import { keys } from "../../kv/keys.ts";
import { KV_BATCH } from "../../core/kv_limits.ts";

const DAY_MS = 24 * 3600_000;

/** The longest window a rule can have (`MAX_WINDOW_MINUTES`), in ms. */
export const MAX_WINDOW_MS = MAX_WINDOW_MINUTES * 60_000;

/** How long past the longest window what was judged is kept, for payments counted late. */
export const JUDGED_MARGIN_MS = 30 * DAY_MS;

/**
 * Until when (ms, the service's clock) the items of a hit evaluated at `at`
 * (its payment's Stripe time, ISO 8601; every item it counted is at or before
 * it) stay judged: the longest window after `at`, never before `now` (a
 * payment judged late is kept as long from then), plus the margin. Whatever
 * the rule's window is now: it may be made longer later, up to the longest.
 */
export function judgedUntil(at: string, now: number): number {
  const t = Date.parse(at);
  return Math.max(Number.isFinite(t) ? t + MAX_WINDOW_MS : now, now) + JUDGED_MARGIN_MS;
}

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
 * `subject` and that rule other than `openId` (the open one, which they
 * would grow: what it counted itself grows it, as it would have in any other
 * delivery order), and the rows read (for `addJudged`'s `held`).
 */
export async function notJudged(
  kv: Deno.Kv,
  subject: string,
  rule: string,
  signals: Signal[],
  now: number,
  openId: string | null = null,
): Promise<{ left: Signal[]; held: Map<string, JudgedRow> }> {
  const items = signals.map(judgedItems);
  const held = await judgedRowsOf(kv, subject, rule, items.flat(), now);
  const judged = (x: string) => {
    const row = held.get(x);
    return row !== undefined && row.alert_id !== openId;
  };
  return { left: signals.filter((_, i) => items[i].some((x) => !judged(x))), held };
}

/** What `signals` judged, each item until the latest `judgedUntil` of the hits counting it. */
export function judgedBy(signals: Iterable<Signal>, now: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of signals) {
    const until = judgedUntil(s.at, now);
    for (const i of judgedItems(s)) out.set(i, Math.max(out.get(i) ?? 0, until));
  }
  return out;
}

/**
 * Alerts stored before what they judged was recorded (`fraudJudged`): their
 * hits are recorded now, so a resolved one does not come back for the same
 * payments. Runs once per store (main.ts, before serving); every hit since is
 * recorded as it is made. Returns the alerts it recorded. They are kept as
 * long as a payment judged now (their times are not all known).
 */
export async function backfillJudged(kv: Deno.Kv, clock: Clock): Promise<number> {
  if ((await kv.get<true>(keys.fraudJudgedBackfilled())).value) return 0;
  const now = clock.now();
  const until = now + MAX_WINDOW_MS + JUDGED_MARGIN_MS;
  let alerts = 0;
  for await (const { value: alert } of kv.list<FraudAlert>({ prefix: keys.fraudAlertsPrefix() })) {
    const items = new Set(alert.signals.flatMap(judgedItems));
    // the hits beyond the kept signals are still recorded per transaction
    for await (const hit of kv.list({ prefix: keys.fraudAlertHitsPrefix(alert.id) })) {
      items.add(String(hit.key[2]));
    }
    // unchecked sets of what is true whatever else changes: a later hit adds, never removes
    const all = [...items].map((i): [string, number] => [i, until]);
    for (let i = 0; i < all.length; i += KV_BATCH.mutations) {
      const op = kv.atomic();
      const batch = all.slice(i, i + KV_BATCH.mutations);
      // an item another alert judged keeps naming it (addJudged)
      const held = await judgedRowsOf(kv, alert.subject, alert.rule, batch.map(([x]) => x), now);
      addJudged(op, alert.subject, alert.rule, batch, alert.id, now, held);
      if (!(await op.commit()).ok) {
        throw new Error(`recording what alert ${alert.id} judged failed`);
      }
    }
    alerts++;
  }
  await kv.set(keys.fraudJudgedBackfilled(), true);
  return alerts;
}

/**
 * `fraudJudged` rows written before they had a retention (a bare alert id,
 * kept for ever): each is given one, as long as a payment judged now. Runs
 * once per store (main.ts, before serving, after `backfillJudged`); a row
 * rewritten meanwhile is left as it is. Returns the rows it gave one.
 */
export async function retainJudged(kv: Deno.Kv, clock: Clock): Promise<number> {
  if ((await kv.get<true>(keys.fraudJudgedRetained())).value) return 0;
  const now = clock.now();
  const until = now + MAX_WINDOW_MS + JUDGED_MARGIN_MS;
  const write = async (rows: Deno.KvEntry<string>[]) => {
    const op = kv.atomic();
    for (const e of rows) {
      const row: JudgedRow = { alert_id: e.value, until };
      op.check(e).set(e.key, row, { expireIn: until - now });
    }
    return (await op.commit()).ok;
  };
  let retained = 0;
  let batch: Deno.KvEntry<string>[] = [];
  const flush = async () => {
    // a conflict is a row rewritten since it was read (it has a retention): the others one by one
    if (await write(batch)) retained += batch.length;
    else for (const e of batch) if (await write([e])) retained++;
    batch = [];
  };
  for await (const e of kv.list<JudgedRow | string>({ prefix: keys.fraudJudgedPrefix() })) {
    if (typeof e.value !== "string") continue;
    batch.push(e as Deno.KvEntry<string>);
    if (batch.length === KV_BATCH.checks) await flush();
  }
  if (batch.length) await flush();
  await kv.set(keys.fraudJudgedRetained(), true);
  return retained;
}
