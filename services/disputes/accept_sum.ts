/**
 * What an accept adds up to (README, "Two-person rules", `dispute.accept`):
 * the disputed amount plus what the same operator accepted alone of that
 * customer's (or card's) disputes in 24 h, and all their accepts of the day
 * against the daily cap. A dispute seen before its payment (a stub
 * transaction: no customer, no card) cannot be added up, so its accept needs
 * a second person whatever its amount; and an accept recorded alone before
 * its payment was known counts by the customer and card known now.
 */
import type { Config } from "../../config.ts";
import { amountFor } from "../../config.ts";
import type { DisputeRecord } from "../../domain/dispute.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { ApprovalService } from "../approvals/mod.ts";
import { formatMoney } from "../../domain/money.ts";
import { getDispute } from "../../kv/disputes.ts";
import { getTransaction } from "../../kv/transactions.ts";
import {
  acceptedIn,
  acceptedOn,
  type AcceptMark,
  type AcceptTally,
  getAcceptTally,
} from "../../kv/dispute_accepts.ts";

/** Who paid for the disputed payment, as far as it is known here. */
export interface Payer {
  /** the customer, or the payment when it has none */
  subject: string;
  /** the fingerprint of the card it was paid with */
  card: string | null;
  /** false for a dispute seen before its payment: neither its customer nor its card is known */
  known: boolean;
}

export async function payerOf(kv: Deno.Kv, r: DisputeRecord): Promise<Payer> {
  const txn = await getTransaction(kv, r.transaction_id);
  const customer = r.customer ?? txn?.customer ?? null;
  return {
    subject: customer ?? r.transaction_id,
    card: txn?.payment_method?.fingerprint ?? null,
    known: customer !== null || (txn?.payment_method ?? null) !== null,
  };
}

/**
 * The marks as counted now: one recorded while its payment was unknown (the
 * stub as its subject, no card; left by an earlier version) takes the
 * customer and card its dispute has since learned.
 */
async function placed(kv: Deno.Kv, marks: AcceptMark[]): Promise<AcceptMark[]> {
  return await Promise.all(marks.map(async (m) => {
    if (m.card || m.subject.startsWith("cus_")) return m;
    const r = (await getDispute(kv, m.dispute)).value;
    if (!r) return m;
    const payer = await payerOf(kv, r);
    return { ...m, subject: payer.subject, card: payer.card };
  }));
}

export interface AcceptSum {
  tally: AcceptTally;
  payer: Payer;
  /** what this operator accepted alone of the payer's disputes in 24 h */
  earlier: number;
  /** all their accepts of 24 h, with this one, pass the daily cap */
  overCap: boolean;
  /** at or above the threshold, past the cap, or not added up (the payer unknown) */
  needsTwo: boolean;
}

export async function acceptSum(
  kv: Deno.Kv,
  config: Pick<Config, "refundApprovalThresholds" | "refundDailyCaps">,
  r: DisputeRecord,
  admin: string,
  now: number,
): Promise<AcceptSum> {
  const threshold = amountFor(config.refundApprovalThresholds, r.currency);
  const tally = await getAcceptTally(kv, admin, now);
  const payer = await payerOf(kv, r);
  const counted = { ...tally, recent: await placed(kv, tally.recent) };
  const earlier = acceptedOn(counted, payer.subject, r.currency, payer.card);
  // and all their accepts of the day, whoever the customer: the refunds' daily cap
  const cap = config.refundDailyCaps
    ? amountFor(config.refundDailyCaps, r.currency)
    : threshold * 10;
  const overCap = r.amount + acceptedIn(tally, r.currency) > cap;
  const needsTwo = !payer.known || r.amount + earlier >= threshold || overCap;
  return { tally, payer, earlier, overCap, needsTwo };
}

/** Why an accept of a dispute seen before its payment waits for a second person. */
const UNKNOWN_PAYER = "; the payment's customer and card are not known yet (the dispute was " +
  "seen before its payment): the requester's accepts of theirs cannot be added up";

/** The `dispute.accept` request for a second person, added to `op`. */
export function addAcceptRequest(
  approvals: ApprovalService,
  op: Deno.AtomicOperation,
  r: DisputeRecord,
  ctx: CallContext,
  note: string,
  sum: AcceptSum,
) {
  const id = r.id;
  const { earlier, overCap, payer } = sum;
  const before = formatMoney(earlier, r.currency);
  const also =
    (earlier > 0
      ? `; with ${before} of this customer's (or card's) disputes the requester accepted in 24 h`
      : "") +
    (overCap ? "; beyond the requester's daily cap" : "") +
    (payer.known ? "" : UNKNOWN_PAYER);
  return approvals.addRequest(
    op,
    "dispute.accept",
    {
      dispute_id: id,
      note,
      amount: r.amount,
      currency: r.currency,
      accepted_earlier: earlier,
      ...(payer.known ? {} : { payer_known: false }),
    },
    ctx,
    {
      summary: `accept dispute ${id} (${r.reason}, ${formatMoney(r.amount, r.currency)}) ` +
        `as lost${also}`,
      target: { type: "dispute", id },
    },
  );
}
