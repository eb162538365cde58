/**
 * Retry attempts, their indexes, and the two counters the policy's caps read.
 *
 *   ["retries", id]                        -> RetryRecord
 *   ["retries_by_created", id]             -> id
 *   ["retries_by_transaction", txn, id]    -> id
 *   ["retries_by_status", status, id]      -> id
 *   ["retry_states", txn]                  -> RetryState  (attempts, the one in flight)
 *   ["retry_card_uses", fingerprint]       -> CardUses    (rolling 24 h; Stripe's lock)
 *   ["payment_method_last_used", pm]       -> ISO 8601
 *
 * The counters are read, checked and written in the commit that records an
 * attempt: of a burst of parallel requests, one commits and the others run
 * their build again against the new counts, so no cap is ever exceeded. An
 * attempt Stripe provably did not act on gives its count and its card use
 * back, in the checked commit that settles it. A decline Stripe gives because
 * it locked the card (`card_decline_rate_limit_exceeded`) is noted on the
 * card's entry, checked, in the commit that settles it: the commit recording
 * an attempt with that card reads and checks the same entry, so no attempt on
 * any payment passes the lock once it is known.
 */
import { keys } from "./keys.ts";
import { commitChecked, getManyChunked } from "./atomic.ts";
import { type CursorSealer, type Page, scanPage } from "./pagination.ts";
import type { RetryStatus } from "../domain/retry.ts";

export interface CardSummary {
  type: string;
  brand: string | null;
  last4: string | null;
  exp_month: number | null;
  exp_year: number | null;
  fingerprint: string | null;
}

export interface RetryRecord {
  id: string;
  transaction_id: string;
  customer: string;
  stripe_payment_intent: string;
  /** the payment method confirmed (`pm_…`, attached to the customer) */
  payment_method: string;
  /** what the operator sent (a test id such as `pm_card_visa` becomes the attached `pm_…`) */
  requested_payment_method: string;
  card: CardSummary | null;
  off_session: boolean;
  note: string | null;
  confirm_fraud_alert: boolean;
  status: RetryStatus;
  /** Stripe's PaymentIntent status as last seen for this attempt */
  stripe_status: string | null;
  failure_code: string | null;
  decline_code: string | null;
  advice_code: string | null;
  failure_message: string | null;
  /** `requires_action`: what the customer must do, and the secret the merchant's checkout needs */
  next_action: unknown | null;
  client_secret: string | null;
  stripe_charge: string | null;
  stripe_request_id: string | null;
  /** every confirm of this attempt carries it (`retry:<id>`) */
  stripe_idempotency_key: string;
  /**
   * The payment method saved on the customer for this attempt, after it was
   * recorded (absent or null: it was saved there already): the attach's
   * Stripe idempotency key (`retry-attach:<id>`) and where it stands.
   */
  attach?: { idempotency_key: string; status: "pending" | "done" | "failed" } | null;
  /** the PaymentIntent's latest charge and error when recorded: a later state is this attempt's */
  prior: { latest_charge: string | null; error_charge: string | null };
  requested_by: string;
  /** who settled it: `answer`, `webhook`, `reconcile` */
  settled_by: string | null;
  job: { id: string; due_at: number } | null;
  created_at: string;
  updated_at: string;
  settled_at: string | null;
  /** waiting on the customer: when reconciliation last read the PaymentIntent (absent: never) */
  stripe_checked_at?: string | null;
  /**
   * false: Stripe provably did not act on this attempt (it asked to try again, refused the
   * request itself, or the confirm was never sent), so it was taken off the payment's count
   * and the card's uses (README "Retry policy"); absent or true: it counts
   */
  counted?: boolean;
  /** the card fingerprint whose uses count this attempt (absent on older records: `card`'s) */
  card_use?: string | null;
}

export interface RetryState {
  attempts: number;
  in_flight: string | null;
}

export interface CardUses {
  uses: number[];
  /** when Stripe last refused the card as declined too often (ms); absent: never seen */
  locked_at?: number;
}

const CARD_USES_TTL_MS = 25 * 3600_000;

export function getRetry(kv: Deno.Kv, id: string): Promise<Deno.KvEntryMaybe<RetryRecord>> {
  return kv.get<RetryRecord>(keys.retry(id));
}

export function getRetryState(kv: Deno.Kv, txnId: string) {
  return kv.get<RetryState>(keys.retryState(txnId));
}

export function getCardUses(kv: Deno.Kv, fingerprint: string) {
  return kv.get<CardUses>(keys.retryCardUses(fingerprint));
}

/** Moves the payment's counter and the card's uses, both checked as read. */
export function addAttemptCounts(
  op: Deno.AtomicOperation,
  txnId: string,
  state: Deno.KvEntryMaybe<RetryState>,
  next: RetryState,
  card: { fingerprint: string; entry: Deno.KvEntryMaybe<CardUses>; uses: number[] } | null,
): void {
  op.check(state).set(keys.retryState(txnId), next);
  if (card) {
    op.check(card.entry).set(
      keys.retryCardUses(card.fingerprint),
      { ...card.entry.value, uses: card.uses },
      { expireIn: CARD_USES_TTL_MS },
    );
  }
}

/** Frees the payment for the next attempt (the state read as `entry`, checked). */
export function addInFlightCleared(
  op: Deno.AtomicOperation,
  txnId: string,
  entry: Deno.KvEntryMaybe<RetryState>,
  retryId: string,
): void {
  if (entry.value?.in_flight !== retryId) return;
  op.check(entry).set(keys.retryState(txnId), { ...entry.value, in_flight: null });
}

/**
 * Gives back what an attempt Stripe provably did not act on took (its state
 * and card uses read as `state` / `card.entry`, both checked): one off the
 * payment's count, the payment freed when the attempt holds it, and the
 * card's use at `card.usedAt` (when the attempt was recorded: its `created_at`,
 * whole ms, where the use kept the clock's fraction of a ms).
 */
export function addAttemptCountsReleased(
  op: Deno.AtomicOperation,
  txnId: string,
  retryId: string,
  state: Deno.KvEntryMaybe<RetryState>,
  card: { fingerprint: string; entry: Deno.KvEntryMaybe<CardUses>; usedAt: number } | null,
): void {
  const s = state.value;
  if (s) {
    op.check(state).set(keys.retryState(txnId), {
      attempts: Math.max(0, s.attempts - 1),
      in_flight: s.in_flight === retryId ? null : s.in_flight,
    });
  }
  const uses = card?.entry.value?.uses;
  const at = uses?.findIndex((u) => Math.floor(u) === Math.floor(card!.usedAt)) ?? -1;
  if (card && uses && at >= 0) {
    op.check(card.entry).set(keys.retryCardUses(card.fingerprint), {
      ...card.entry.value,
      uses: uses.filter((_, i) => i !== at),
    }, { expireIn: CARD_USES_TTL_MS });
  }
}

/**
 * Notes Stripe's lock on the card (a `card_decline_rate_limit_exceeded` decline
 * at `at`, ms) on its entry, read as `entry` and checked: the card's uses kept.
 */
export function addCardLocked(
  op: Deno.AtomicOperation,
  fingerprint: string,
  entry: Deno.KvEntryMaybe<CardUses>,
  at: number,
): void {
  const lockedAt = Math.max(at, entry.value?.locked_at ?? at);
  op.check(entry).set(keys.retryCardUses(fingerprint), {
    uses: entry.value?.uses ?? [],
    locked_at: lockedAt,
  }, { expireIn: CARD_USES_TTL_MS });
}

export function addCreateRetry(op: Deno.AtomicOperation, r: RetryRecord): void {
  op.check({ key: keys.retry(r.id), versionstamp: null })
    .set(keys.retry(r.id), r)
    .set(keys.retriesByCreated(r.id), r.id)
    .set(keys.retryByTransaction(r.transaction_id, r.id), r.id)
    .set(keys.retryByStatus(r.status, r.id), r.id);
}

export function addUpdateRetry(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<RetryRecord>,
  next: RetryRecord,
): void {
  op.check(entry).set(keys.retry(next.id), next);
  if (entry.value.status !== next.status) {
    op.delete(keys.retryByStatus(entry.value.status, next.id))
      .set(keys.retryByStatus(next.status, next.id), next.id);
  }
}

/** Notes that reconciliation read the attempt's PaymentIntent at `at`, if it still is `status`. */
export async function markRetryChecked(
  kv: Deno.Kv,
  id: string,
  status: RetryStatus,
  at: string,
): Promise<void> {
  await commitChecked(kv, async (op) => {
    const entry = await getRetry(kv, id);
    if (entry.value?.status !== status) return;
    op.check(entry).set(keys.retry(id), { ...entry.value, stripe_checked_at: at });
  }, { what: "the retry attempt" });
}

export function addPaymentMethodUse(op: Deno.AtomicOperation, pmId: string, at: string): void {
  op.set(keys.paymentMethodLastUsed(pmId), at);
}

export async function getPaymentMethodsLastUsed(
  kv: Deno.Kv,
  pmIds: string[],
): Promise<Map<string, string>> {
  const rows = await getManyChunked<string>(kv, pmIds.map((id) => keys.paymentMethodLastUsed(id)));
  const out = new Map<string, string>();
  rows.forEach((r, i) => r.value && out.set(pmIds[i], r.value));
  return out;
}

export async function listTransactionRetries(kv: Deno.Kv, txnId: string): Promise<RetryRecord[]> {
  const ids: string[] = [];
  for await (const e of kv.list<string>({ prefix: keys.retriesByTransactionPrefix(txnId) })) {
    ids.push(e.value);
  }
  const rows = await getManyChunked<RetryRecord>(kv, ids.map((id) => keys.retry(id)));
  return rows.flatMap((r) => r.value ? [r.value] : []);
}

/** Attempts in `status`, oldest first (reconciliation). */
export async function listRetryIdsByStatus(
  kv: Deno.Kv,
  status: RetryStatus,
  limit: number,
): Promise<string[]> {
  const ids: string[] = [];
  for await (
    const e of kv.list<string>({ prefix: keys.retriesByStatusPrefix(status) }, { limit })
  ) {
    ids.push(e.value);
  }
  return ids;
}

export interface RetryFilters {
  transaction_id?: string;
  status?: RetryStatus;
}

const SCAN_BUDGET = 1000;

/** Newest first through the most selective index; the other filter applies to the records read. */
export function listRetries(
  kv: Deno.Kv,
  sealer: CursorSealer,
  filters: RetryFilters,
  page: { limit: number; cursor?: string },
): Promise<Page<RetryRecord>> {
  const index = filters.transaction_id
    ? keys.retriesByTransactionPrefix(filters.transaction_id)
    : filters.status
    ? keys.retriesByStatusPrefix(filters.status)
    : keys.retriesByCreatedPrefix();
  const scope = `retries:${filters.status ?? ""}:${filters.transaction_id ?? ""}`;
  return scanPage<string, RetryRecord>(
    kv,
    sealer,
    index,
    { ...page, scope, budget: SCAN_BUDGET },
    async (entry) => {
      const r = (await kv.get<RetryRecord>(keys.retry(entry.value))).value;
      if (!r) return null;
      if (filters.status && r.status !== filters.status) return null;
      if (filters.transaction_id && r.transaction_id !== filters.transaction_id) return null;
      return r;
    },
  );
}
