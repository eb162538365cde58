/**
 * Fraud alerts in KV (re-exported by kv/fraud.ts): the records, one open
 * alert per subject and rule, hits recorded once per transaction, and the
 * indexes by creation, transaction and customer (every customer an alert
 * names). Indexes hold ids.
 */
import { keys } from "./keys.ts";
import { getManyChunked } from "./atomic.ts";
import type { FraudAlert } from "../domain/fraud.ts";

/** A value larger than this (JSON characters) is refused before it reaches KV (64 KiB). */
export const MAX_RECORD_CHARS = 48_000;

export class RecordTooLarge extends Error {}

/** Throws (the commit is never attempted) rather than let KV refuse a value later. */
export function assertFits(what: string, value: unknown): void {
  const n = JSON.stringify(value).length;
  if (n > MAX_RECORD_CHARS) {
    throw new RecordTooLarge(`${what} is ${n} characters, above ${MAX_RECORD_CHARS}`);
  }
}

// --- alerts -----------------------------------------------------------------------

export function getAlert(kv: Deno.Kv, id: string) {
  return kv.get<FraudAlert>(keys.fraudAlert(id));
}

export function getOpenAlertId(kv: Deno.Kv, subject: string, rule: string) {
  return kv.get<string>(keys.fraudOpenAlert(subject, rule));
}

export function getAlertHit(kv: Deno.Kv, alertId: string, txnId: string) {
  return kv.get<true>(keys.fraudAlertHit(alertId, txnId));
}

/** Every customer an alert counts for: its `customer` and the `customers` it names. */
export function alertCustomers(alert: Pick<FraudAlert, "customer" | "customers">): string[] {
  const all = alert.customer ? [alert.customer, ...alert.customers] : alert.customers;
  return [...new Set(all)];
}

/**
 * Writes an alert and its indexes; `isNew` adds the listing and open indexes.
 * Each customer the alert names is listed under that customer (README
 * "Retry policy": an open alert counts for each of them); `indexedBefore`
 * are the ones already listed (a growing alert adds only the new ones).
 */
export function addAlertWrite(
  op: Deno.AtomicOperation,
  alert: FraudAlert,
  isNew: boolean,
  newHits: string[],
  indexedBefore: readonly string[] = [],
): void {
  assertFits(`fraud alert ${alert.id}`, alert);
  op.set(keys.fraudAlert(alert.id), alert);
  if (isNew) {
    op.check({ key: keys.fraudOpenAlert(alert.subject, alert.rule), versionstamp: null });
    op.set(keys.fraudOpenAlert(alert.subject, alert.rule), alert.id);
    op.set(keys.fraudAlertsByCreated(alert.id), alert.id);
  }
  for (const c of alertCustomers(alert)) {
    if (!indexedBefore.includes(c)) op.set(keys.fraudAlertsByCustomer(c, alert.id), alert.id);
  }
  for (const x of newHits) {
    op.set(keys.fraudAlertHit(alert.id, x), true);
    op.set(keys.fraudAlertsByTransaction(x, alert.id), alert.id);
  }
}

/**
 * A `fraudJudged` row: the alert that judged the item, and until when (ms,
 * the service's clock) it stays judged. Rows written before the retention
 * hold the alert id alone (a string) until the pass at start gives them one
 * (services/fraud/judged.ts).
 */
export interface JudgedRow {
  alert_id: string;
  until: number;
}

/**
 * Records that alert `alertId` (of `subject` and `rule`) has judged `items`
 * (the payments, cards or customers its hits counted, each with until when
 * it stays judged): once it is resolved, a hit made only of them raises
 * nothing again. An item an earlier alert still judges (`held`, from
 * `judgedRowsOf`) keeps naming that alert, so the open alert is never taken
 * for the one that judged it; it is kept until the later of the two. KV drops
 * each row at its `until` (`expireIn`, a span from `now`, so the service's
 * clock and KV's agree on when however they differ).
 */
export function addJudged(
  op: Deno.AtomicOperation,
  subject: string,
  rule: string,
  items: Iterable<[item: string, until: number]>,
  alertId: string,
  now: number,
  held: ReadonlyMap<string, JudgedRow> = new Map(),
): void {
  for (const [i, until] of items) {
    const before = held.get(i);
    const row: JudgedRow = before
      ? { alert_id: before.alert_id, until: Math.max(before.until, until) }
      : { alert_id: alertId, until };
    op.set(keys.fraudJudged(subject, rule, i), row, { expireIn: Math.max(1, row.until - now) });
  }
}

/** Whether a `fraudJudged` row still judges its item at `now` (KV may not have dropped it yet). */
export function judgedAt(value: JudgedRow | string | null, now: number): boolean {
  if (value === null) return false;
  return typeof value === "string" || value.until > now;
}

/**
 * The rows of `items` an alert of `subject` and `rule` still judges at `now`
 * (any status), by item; a row stored before the retention (a bare alert id)
 * as that alert with no retention of its own (`until` 0).
 */
export async function judgedRowsOf(
  kv: Deno.Kv,
  subject: string,
  rule: string,
  items: string[],
  now: number,
): Promise<Map<string, JudgedRow>> {
  const unique = [...new Set(items)];
  const rows = await getManyChunked<JudgedRow | string>(
    kv,
    unique.map((i) => keys.fraudJudged(subject, rule, i)),
  );
  const out = new Map<string, JudgedRow>();
  unique.forEach((item, n) => {
    const v = rows[n].value;
    if (!judgedAt(v, now)) return;
    out.set(item, typeof v === "string" ? { alert_id: v, until: 0 } : v!);
  });
  return out;
}

/** Which of `items` an alert of `subject` and `rule` has judged (any status), at `now`. */
export async function judgedOf(
  kv: Deno.Kv,
  subject: string,
  rule: string,
  items: string[],
  now: number,
): Promise<Set<string>> {
  return new Set((await judgedRowsOf(kv, subject, rule, items, now)).keys());
}

/** The most refund ids an alert keeps (the newest). */
export const ALERT_MAX_REFUNDS = 100;

/**
 * Links a refund to the alert it answers, in the refund's own commit: the
 * alert's `refunds` lists it whatever happens to the request after (the
 * caller checked `entry` in `op`).
 */
export function addAlertRefund(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntryMaybe<FraudAlert>,
  refundId: string,
  at: string,
): void {
  const alert = entry.value;
  if (!alert || alert.refunds.includes(refundId)) return;
  const refunds = [...alert.refunds, refundId].slice(-ALERT_MAX_REFUNDS);
  op.set(keys.fraudAlert(alert.id), { ...alert, refunds, updated_at: at });
}

/** How long an alert resolved as fraud marks the customers it names (README, Retry policy). */
export const FRAUD_CONFIRMED_MS = 90 * 24 * 3600_000;

/**
 * A resolved alert leaves the open indexes: the next hit opens a new alert.
 * Resolved as fraud, it marks each customer it names for `FRAUD_CONFIRMED_MS`.
 */
export function addAlertClosed(op: Deno.AtomicOperation, alert: FraudAlert, now: number): void {
  op.delete(keys.fraudOpenAlert(alert.subject, alert.rule));
  for (const c of alertCustomers(alert)) {
    op.delete(keys.fraudAlertsByCustomer(c, alert.id));
    if (alert.status === "resolved_fraud") {
      op.set(keys.fraudConfirmedCustomer(c, alert.id), { until: now + FRAUD_CONFIRMED_MS }, {
        expireIn: FRAUD_CONFIRMED_MS,
      });
    }
  }
}

/**
 * Open alerts stored when only an alert's `customer` was indexed (a card
 * alert's `customers` were not): lists each under every customer it names.
 * Runs once per store (main.ts, before serving); later writes keep the index
 * whole. Returns the rows added.
 */
export async function indexAlertCustomers(kv: Deno.Kv): Promise<number> {
  const done = await kv.get<true>(keys.fraudAlertCustomersIndexed());
  if (done.value) return 0;
  let added = 0;
  for await (const row of kv.list<string>({ prefix: keys.fraudOpenAlertsPrefix() })) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await getAlert(kv, row.value);
      const alert = entry.value;
      if (!alert || alert.status === "resolved_fraud" || alert.status === "resolved_legitimate") {
        break;
      }
      const names = alertCustomers(alert);
      const have = await getManyChunked<string>(
        kv,
        names.map((c) => keys.fraudAlertsByCustomer(c, alert.id)),
      );
      const missing = names.filter((_, i) => have[i].value === null);
      if (missing.length === 0) break;
      const op = kv.atomic().check(entry);
      for (const c of missing) op.set(keys.fraudAlertsByCustomer(c, alert.id), alert.id);
      if ((await op.commit()).ok) {
        added += missing.length;
        break;
      }
    }
  }
  await kv.set(keys.fraudAlertCustomersIndexed(), true);
  return added;
}

/** One alert of a listing and the cursor that resumes the listing right after it. */
export interface ListedAlert {
  alert: FraudAlert;
  cursor: string;
}

/**
 * Alerts newest first, in batches of 50, from `cursor` on. Each alert comes
 * with the cursor just past it, so a page that stops mid-batch resumes at
 * the next alert; `last` is true on the final batch.
 */
export async function* alertsNewestFirst(
  kv: Deno.Kv,
  cursor?: string,
): AsyncGenerator<{ alerts: ListedAlert[]; last: boolean }> {
  const iter = kv.list<string>({ prefix: keys.fraudAlertsByCreatedPrefix() }, {
    reverse: true,
    cursor,
    batchSize: 100,
  });
  let batch: { id: string; cursor: string }[] = [];
  for await (const row of iter) {
    batch.push({ id: row.value, cursor: iter.cursor });
    if (batch.length < 50) continue;
    yield { alerts: await listed(kv, batch), last: false };
    batch = [];
  }
  yield { alerts: await listed(kv, batch), last: true };
}

async function listed(kv: Deno.Kv, rows: { id: string; cursor: string }[]) {
  const got = await getManyChunked<FraudAlert>(kv, rows.map((r) => keys.fraudAlert(r.id)));
  const out: ListedAlert[] = [];
  got.forEach((g, i) => {
    if (g.value) out.push({ alert: g.value, cursor: rows[i].cursor });
  });
  return out;
}

export async function alertsByIds(kv: Deno.Kv, ids: string[]): Promise<FraudAlert[]> {
  const rows = await getManyChunked<FraudAlert>(kv, ids.map((id) => keys.fraudAlert(id)));
  return rows.filter((r) => r.value !== null).map((r) => r.value!);
}

export async function alertIdsOfTransaction(kv: Deno.Kv, txnId: string): Promise<string[]> {
  const out: string[] = [];
  const rows = kv.list<string>({ prefix: keys.fraudAlertsByTransactionPrefix(txnId) });
  for await (const r of rows) out.push(r.value);
  return out;
}
