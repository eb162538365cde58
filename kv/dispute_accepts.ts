/**
 * One operator's dispute accepts of the last 24 h that went ahead without a
 * second person, kept so that accepting a customer's disputes one by one adds
 * up toward the approval threshold as one accept would (README, "Dispute
 * workbench"):
 *
 *   ["dispute_accept_tallies", admin] -> { accepts: AcceptMark[] }
 *
 * Read and checked in the accept's own commit, so one operator's concurrent
 * accepts are decided one after the other.
 */
import { keys } from "./keys.ts";

const DAY_MS = 24 * 3600_000;

export interface AcceptMark {
  at: number;
  dispute: string;
  /** the customer, or the payment when the dispute has no customer */
  subject: string;
  /** the fingerprint of the card the payment was made with (absent on older marks) */
  card?: string | null;
  currency: string;
  amount: number;
}

export interface AcceptTally {
  entry: Deno.KvEntryMaybe<{ accepts: AcceptMark[] }>;
  /** the marks still inside the last 24 h */
  recent: AcceptMark[];
}

export async function getAcceptTally(
  kv: Deno.Kv,
  admin: string,
  now: number,
): Promise<AcceptTally> {
  const entry = await kv.get<{ accepts: AcceptMark[] }>(keys.disputeAcceptTally(admin));
  return { entry, recent: (entry.value?.accepts ?? []).filter((a) => a.at > now - DAY_MS) };
}

/**
 * What this operator accepted alone on `subject` (or on payments made with
 * `card`: one card is one payer) in `currency` in the last 24 h.
 */
export function acceptedOn(
  tally: AcceptTally,
  subject: string,
  currency: string,
  card: string | null = null,
): number {
  return tally.recent
    .filter((a) =>
      (a.subject === subject || (card !== null && a.card === card)) && a.currency === currency
    )
    .reduce((sum, a) => sum + a.amount, 0);
}

/** What this operator accepted alone in `currency` in the last 24 h, whatever the customer. */
export function acceptedIn(tally: AcceptTally, currency: string): number {
  return tally.recent.filter((a) => a.currency === currency).reduce((sum, a) => sum + a.amount, 0);
}

/** Adds `mark` (the tally's versionstamp checked); marks past 24 h are dropped. */
export function addAcceptMark(
  op: Deno.AtomicOperation,
  admin: string,
  tally: AcceptTally,
  mark: AcceptMark,
): void {
  op.check(tally.entry).set(keys.disputeAcceptTally(admin), {
    accepts: [...tally.recent, mark],
  }, { expireIn: DAY_MS });
}
