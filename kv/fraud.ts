/**
 * Fraud detection in KV: the per-subject history and its change index, card
 * declines across customers, alerts (one open per subject and rule, hits
 * recorded once per transaction), rule settings and their versions, snoozes,
 * shadow hits and sweep runs. Indexes hold ids.
 */
import { keys } from "./keys.ts";
import { getManyChunked } from "./atomic.ts";
import type { CustomerAggregates, CustomerRecord } from "../domain/customer.ts";
import type { FraudHistory } from "../domain/fraud_history.ts";
import type { FraudAlert, RuleName, Signal } from "../domain/fraud.ts";

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

// --- history and its change index ----------------------------------------------

/** Moves the subject's change-index row to the history's `changed_at`. */
export function addHistoryChange(
  op: Deno.AtomicOperation,
  previousChangedAt: number | null,
  history: FraudHistory,
): void {
  if (previousChangedAt === history.changed_at) return;
  if (previousChangedAt) op.delete(keys.fraudChange(previousChangedAt, history.subject));
  op.set(keys.fraudChange(history.changed_at, history.subject), history.subject);
}

export function getCardHistory(kv: Deno.Kv, fingerprint: string) {
  return kv.get<FraudHistory>(keys.fraudCardHistory(fingerprint));
}

export function addCardHistory(op: Deno.AtomicOperation, fingerprint: string, h: FraudHistory) {
  op.set(keys.fraudCardHistory(fingerprint), h);
}

const DECLINE_KEEP_MS = 48 * 3600_000;

export function addCardDecline(
  op: Deno.AtomicOperation,
  d: { fingerprint: string; t: number; customer: string; x: string },
): void {
  op.set(keys.fraudCardDecline(d.fingerprint, d.t, d.customer), d.x, {
    expireIn: DECLINE_KEEP_MS,
  });
}

/** A card's declines with Stripe time in `[from, to]`. */
export async function listCardDeclines(
  kv: Deno.Kv,
  fingerprint: string,
  from: number,
  to: number,
): Promise<{ customer: string; t: number; x: string }[]> {
  const prefix = keys.fraudCardDeclinesPrefix(fingerprint);
  const out = [];
  const rows = kv.list<string>({ start: [...prefix, from], end: [...prefix, to + 1] });
  for await (const r of rows) {
    out.push({ customer: r.key[3] as string, t: r.key[2] as number, x: r.value });
  }
  return out;
}

/**
 * Every card's declines, in key order (by Stripe time, then customer), read in
 * one pass: for a walk over every subject, where one range per declined card
 * would be a round trip each. Null when there are more than `limit` (they
 * would all be held in memory; declines expire after 48 h, which bounds them).
 */
export async function readAllCardDeclines(
  kv: Deno.Kv,
  limit: number,
): Promise<Map<string, { customer: string; t: number; x: string }[]> | null> {
  const out = new Map<string, { customer: string; t: number; x: string }[]>();
  const rows = kv.list<string>({ prefix: keys.fraudCardDeclinesAllPrefix() }, {
    batchSize: 1000,
    limit: limit + 1,
  });
  let n = 0;
  for await (const r of rows) {
    if (++n > limit) return null;
    const fingerprint = r.key[1] as string;
    let list = out.get(fingerprint);
    if (!list) out.set(fingerprint, list = []);
    list.push({ customer: r.key[3] as string, t: r.key[2] as number, x: r.value });
  }
  return out;
}

/** What the rules need of one subject: its history and, for a customer, when it was created. */
export interface SubjectState {
  subject: string;
  history: FraudHistory | null;
  customerCreated: number | null;
}

/**
 * The states of several subjects (customers' counters, cards' histories).
 * A customer's record (for when it was created) is read only where
 * `needsCreated` says its history could use it: most payments are below
 * every amount that makes a customer's age matter.
 */
export async function readSubjects(
  kv: Deno.Kv,
  subjects: string[],
  needsCreated: (h: FraudHistory) => boolean = () => true,
): Promise<SubjectState[]> {
  const histories = await getManyParallel<unknown>(
    kv,
    subjects.map((s) =>
      s.startsWith("card:") ? keys.fraudCardHistory(s.slice(5)) : keys.customerAggregates(s)
    ),
  );
  const states: SubjectState[] = subjects.map((subject, i) => {
    const v = histories[i].value;
    const history = subject.startsWith("card:")
      ? (v as FraudHistory | null) ?? null
      : (v as CustomerAggregates | null)?.fraud ?? null;
    return { subject, history, customerCreated: null };
  });
  const wanted = states.filter((s) =>
    !s.subject.startsWith("card:") && s.history && needsCreated(s.history)
  );
  const records = await getManyParallel<CustomerRecord>(
    kv,
    wanted.map((s) => keys.customer(s.subject)),
  );
  wanted.forEach((s, i) => {
    const created = records[i].value?.created;
    s.customerCreated = created ? Date.parse(created) : null;
  });
  return states;
}

async function getManyParallel<T>(kv: Deno.Kv, ks: Deno.KvKey[]) {
  const batches: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < ks.length; i += 10) batches.push(kv.getMany<T[]>(ks.slice(i, i + 10)));
  return (await Promise.all(batches)).flat();
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

/** Writes an alert and its indexes; `isNew` adds the listing and open indexes. */
export function addAlertWrite(
  op: Deno.AtomicOperation,
  alert: FraudAlert,
  isNew: boolean,
  newHits: string[],
): void {
  assertFits(`fraud alert ${alert.id}`, alert);
  op.set(keys.fraudAlert(alert.id), alert);
  if (isNew) {
    op.check({ key: keys.fraudOpenAlert(alert.subject, alert.rule), versionstamp: null });
    op.set(keys.fraudOpenAlert(alert.subject, alert.rule), alert.id);
    op.set(keys.fraudAlertsByCreated(alert.id), alert.id);
    if (alert.customer) op.set(keys.fraudAlertsByCustomer(alert.customer, alert.id), alert.id);
  }
  for (const x of newHits) {
    op.set(keys.fraudAlertHit(alert.id, x), true);
    op.set(keys.fraudAlertsByTransaction(x, alert.id), alert.id);
  }
}

/** A resolved alert leaves the open indexes: the next hit opens a new alert. */
export function addAlertClosed(op: Deno.AtomicOperation, alert: FraudAlert): void {
  op.delete(keys.fraudOpenAlert(alert.subject, alert.rule));
  if (alert.customer) op.delete(keys.fraudAlertsByCustomer(alert.customer, alert.id));
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

export function addShadowHit(op: Deno.AtomicOperation, subject: string, s: Signal): void {
  op.set(keys.fraudShadowHit(s.rule, subject, s.transaction_id ?? s.at), s, {
    expireIn: 90 * 24 * 3600_000,
  });
}

export async function countShadowHits(kv: Deno.Kv, rule: RuleName): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: keys.fraudShadowHitsPrefix(rule) })) n++;
  return n;
}

export * from "./fraud_admin.ts";
export { keys as fraudKeys };
