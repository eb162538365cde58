/**
 * Fraud detection in KV: the per-subject history and its change index, card
 * declines across customers, shadow hits; alerts (kv/fraud_alerts.ts), rule
 * settings and their versions, snoozes and sweep runs (kv/fraud_admin.ts),
 * re-exported here. Indexes hold ids.
 */
import { keys } from "./keys.ts";
import type { CustomerAggregates, CustomerRecord } from "../domain/customer.ts";
import type { FraudHistory } from "../domain/fraud_history.ts";
import type { RuleName, Signal } from "../domain/fraud.ts";

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

/**
 * Whether the service has seen the card: a payment without a customer (its
 * history), a decline in the last 48 h, or an alert open on its subject.
 */
export async function cardSeen(kv: Deno.Kv, fingerprint: string): Promise<boolean> {
  if ((await getCardHistory(kv, fingerprint)).value) return true;
  const first = async (prefix: Deno.KvKey) => {
    for await (const _ of kv.list({ prefix }, { limit: 1 })) return true;
    return false;
  };
  return await first(keys.fraudCardDeclinesPrefix(fingerprint)) ||
    await first([...keys.fraudOpenAlertsPrefix(), `card:${fingerprint}`]);
}

export function addCardHistory(op: Deno.AtomicOperation, fingerprint: string, h: FraudHistory) {
  op.set(keys.fraudCardHistory(fingerprint), h);
}

const DECLINE_KEEP_MS = 48 * 3600_000;

export function addCardDecline(
  op: Deno.AtomicOperation,
  d: { fingerprint: string; t: number; customer: string; k: string; x: string },
): void {
  // the charge in the key: two declines of one card for one customer in one second are two
  // rows, in Stripe's order (not the order they were written in)
  op.set(keys.fraudCardDecline(d.fingerprint, d.t, d.customer, d.k), d.x, {
    expireIn: DECLINE_KEEP_MS,
  });
}

/** Removes a decline written for `customer` (the payment turned out to be another's). */
export function addCardDeclineRemoval(
  op: Deno.AtomicOperation,
  d: { fingerprint: string; t: number; customer: string; k: string },
): void {
  op.delete(keys.fraudCardDecline(d.fingerprint, d.t, d.customer, d.k));
  // a row written before the charge was part of the key (gone within 48 h)
  op.delete(keys.fraudCardDecline(d.fingerprint, d.t, d.customer, null));
}

/** Removes a subject's change-index row (its history is gone). */
export function addHistoryChangeRemoval(
  op: Deno.AtomicOperation,
  changedAt: number,
  subject: string,
): void {
  op.delete(keys.fraudChange(changedAt, subject));
}

/** A card's declines with Stripe time in `[from, to]`. */
export async function listCardDeclines(
  kv: Deno.Kv,
  fingerprint: string,
  from: number,
  to: number,
): Promise<{ customer: string; t: number; k: string; x: string }[]> {
  const prefix = keys.fraudCardDeclinesPrefix(fingerprint);
  const out = [];
  const rows = kv.list<string>({ start: [...prefix, from], end: [...prefix, to + 1] });
  for await (const r of rows) {
    out.push(declineOf(r));
  }
  return out;
}

/** A decline row as the rules read it (a row from before the charge was in its key: `k` = x). */
function declineOf(r: Deno.KvEntry<string>) {
  const k = r.key[4] === undefined ? r.value : String(r.key[4]);
  return { customer: r.key[3] as string, t: r.key[2] as number, k, x: r.value };
}

/**
 * Every card's declines, in key order (Stripe time, customer, charge), read in
 * one pass: for a walk over every subject, where one range per declined card
 * would be a round trip each. Null when there are more than `limit` (they
 * would all be held in memory; declines expire after 48 h, which bounds them).
 */
export async function readAllCardDeclines(
  kv: Deno.Kv,
  limit: number,
): Promise<Map<string, { customer: string; t: number; k: string; x: string }[]> | null> {
  const out = new Map<string, { customer: string; t: number; k: string; x: string }[]>();
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
    list.push(declineOf(r));
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
export * from "./fraud_alerts.ts";
export { keys as fraudKeys };
