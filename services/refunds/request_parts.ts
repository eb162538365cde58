/**
 * What asking for a refund and deciding on it share: the job names and
 * timings, the transaction a request names (a merged stub's id answers as its
 * payment), the check that Stripe would take a refund of its charge now, the
 * problem a refusal from Stripe answers with, and the reconciliation job that
 * follows a refund sent to Stripe.
 */
import { formatMoney } from "../../domain/money.ts";
import type { Deps } from "../deps.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { AuditService } from "../audit/mod.ts";
import { type Transaction, unknownTransaction } from "../../domain/transaction.ts";
import type { IdFactory } from "../../core/ids.ts";
import { addJob } from "../../kv/jobs.ts";
import { listDisputesOfTransaction } from "../../kv/disputes.ts";
import { acceptsEvidence, type DisputeRecord, isClosedStatus } from "../../domain/dispute.ts";
import { getMergedInto } from "../../kv/transactions.ts";
import { getTransactionEntry } from "../../kv/refunds.ts";

export const REFUND_RECONCILE_JOB = "refund.reconcile";
export const REFUND_EXPIRE_JOB = "refund.expire_approval";
/** the reconciliation job first looks after this long: beyond any Stripe call's timeout */
export const RECONCILE_AFTER_MS = 60_000;
/** unknown outcomes are retried with backoff (up to 1 h apart) well past Stripe's 24 h key window */
export const RECONCILE_MAX_ATTEMPTS = 60;

export interface RequestServices {
  audit: AuditService;
  newId: IdFactory;
}

/** What asking for and deciding on refunds works with. */
export interface RequestParts {
  deps: Deps;
  svc: RequestServices;
}

type TxnEntry = Deno.KvEntry<Transaction>;

/** The transaction `id` names; 404 naming `field` (the request's) when given. */
export async function loadTransaction(kv: Deno.Kv, id: string, field?: string): Promise<TxnEntry> {
  let entry = await getTransactionEntry(kv, id);
  // a stub merged into its payment (an alert may still name it): the payment's record
  const into = entry.value ? null : await getMergedInto(kv, id);
  if (into) entry = await getTransactionEntry(kv, into);
  if (!entry.value) throw field ? unknownTransaction(id, field) : notFound("transaction", id);
  return entry as TxnEntry;
}

/**
 * Stripe refuses every refund of a charge a dispute left not refundable
 * (`is_charge_refundable: false`: a chargeback, while it is decided and after,
 * won or lost); asking would only fail there (README, "Disputes", Money). A
 * record stored without the field is unknown: blocking while open, as before.
 * An inquiry closed without a chargeback (`warning_closed`) never blocks.
 * Each dispute read is checked at commit. `read`: the transaction's disputes
 * when already read.
 */
export async function assertChargeRefundable(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  txnId: string,
  read?: Deno.KvEntry<DisputeRecord>[],
) {
  for (const d of read ?? await listDisputesOfTransaction(kv, txnId)) {
    op.check(d);
    const refundable = d.value.is_charge_refundable as boolean | undefined;
    const closed = isClosedStatus(d.value.status);
    if (refundable === true || (refundable === undefined && closed)) continue;
    // an inquiry closed without a chargeback leaves the charge refundable, whatever an
    // older record kept of Stripe's flag (README, "Disputes", Money)
    if (d.value.status === "warning_closed") continue;
    throw new AppError("charge_not_refundable", notRefundableWhy(txnId, d.value), {
      extra: { dispute_id: d.value.id, dispute_status: d.value.status },
    });
  }
}

/**
 * What can be done about an open dispute (README, "Disputes", Money): respond
 * or accept while Stripe takes a response; once evidence is in, only the
 * network's decision, which leaves the charge as the closed dispute's rules say.
 */
function whileOpen(d: DisputeRecord): string {
  if (acceptsEvidence(d.status)) return "respond to or accept the dispute instead";
  if (d.status.startsWith("warning_")) {
    return "the inquiry's response is in and the card network is reviewing it: wait for it to " +
      "close; closed without a chargeback it leaves the charge refundable; escalated to a " +
      "chargeback it needs a response again (respond to or accept it then)";
  }
  return "evidence is submitted and the card network is deciding it: wait for its decision " +
    "(neither a response nor an accept is possible now); won, the funds come back but Stripe " +
    "still refuses every refund of this charge, so return money to the customer some other " +
    "way; lost, the customer already got the disputed amount back through the chargeback";
}

/** Why the dispute keeps the charge from being refunded, and what to do instead. */
function notRefundableWhy(txnId: string, d: DisputeRecord): string {
  const which = `dispute ${d.id} (${d.stripe_dispute}, ${d.status})`;
  if (!isClosedStatus(d.status)) {
    return `Stripe says the charge of ${txnId} cannot be refunded while ${which} is open: ` +
      whileOpen(d);
  }
  const instead = d.status === "won"
    ? "the dispute was won and the funds are back with you: return money to the customer " +
      "some other way than a refund of this charge"
    : d.status === "lost"
    ? "the dispute was lost: the customer already got the disputed amount back through the " +
      "chargeback, so there is nothing left to refund"
    : "return money to the customer some other way than a refund of this charge";
  return `the charge of ${txnId} is not refundable: Stripe refuses every refund of a charge ` +
    `charged back, as after ${which} (is_charge_refundable: false); ${instead}`;
}

/**
 * Stripe's codes for a charge that cannot be refunded (charged back, already
 * refunded, never captured) or not by that much (`amount_too_large`: a refund
 * made in the Dashboard that this service has not heard of yet): a state of
 * the charge, not a failure at Stripe.
 */
const NOT_REFUNDABLE_AT_STRIPE = new Set([
  "amount_too_large",
  "charge_already_refunded",
  "charge_disputed",
  "charge_not_refundable",
  "refund_disputed_payment",
]);

/** What Stripe says is left on the charge ("… unrefunded amount on charge (92)"), when it says. */
function leftAtStripe(message: string | null | undefined): number | null {
  const m = /unrefunded amount on charge \((\d+)\)/.exec(message ?? "");
  return m ? Number(m[1]) : null;
}

/**
 * The problem a refund Stripe refused answers with, once it is recorded
 * `failed`: 409 `charge_not_refundable` when Stripe says the charge cannot be
 * refunded, or not by that much (a dispute this service had not seen as
 * blocking, a refund made in the Dashboard; `refundable_at_stripe` says what is
 * left when Stripe does), else Stripe's refusal as it came (`stripe_error`);
 * both carry Stripe's own description under `stripe`, and the refund's id.
 */
export function refusalProblem(
  error: AppError,
  refund: { id: string; currency: string; amount: number },
): AppError {
  const refundId = refund.id;
  const extra: Record<string, unknown> = { ...error.extra, refund_id: refundId };
  const stripe = (error.extra?.stripe ?? {}) as { code?: string | null; message?: string | null };
  if (error.code === "stripe_error" && stripe.code === "amount_too_large") {
    const left = leftAtStripe(stripe.message);
    if (left !== null) extra.refundable_at_stripe = left;
    const asked = formatMoney(refund.amount, refund.currency);
    const said = `(amount_too_large: ${stripe.message ?? "no message"})`;
    const elsewhere = "most likely as a refund made elsewhere (the Dashboard) has not reached " +
      "this service yet";
    const failed = `Refund ${refundId} is recorded failed and no money moved`;
    const wait = "or wait for that refund's events to arrive and the transaction to show it.";
    return new AppError(
      "charge_not_refundable",
      left === null
        ? `Stripe has less than the ${asked} asked left to refund on this payment ${said}, ` +
          `${elsewhere}. ${failed}: ask for less (the Stripe Dashboard shows what is left), ${wait}`
        : `Stripe has only ${formatMoney(left, refund.currency)} left to refund on this ` +
          `payment, less than the ${asked} asked ${said}, ${elsewhere}. ${failed}: ask for at ` +
          `most ${formatMoney(left, refund.currency)}, ${wait}`,
      { extra, cause: error },
    );
  }
  if (error.code === "stripe_error" && NOT_REFUNDABLE_AT_STRIPE.has(stripe.code ?? "")) {
    return new AppError(
      "charge_not_refundable",
      `Stripe says the charge cannot be refunded (${stripe.code}: ${
        stripe.message ?? "no message"
      }); refund ${refundId} is recorded failed and no money moved`,
      { extra, cause: error },
    );
  }
  return new AppError(error.code, error.message, { extra, cause: error });
}

export function reconcileJob(op: Deno.AtomicOperation, deps: Deps, newId: IdFactory, id: string) {
  const job = addJob(op, deps.clock, newId, REFUND_RECONCILE_JOB, { refund_id: id }, {
    dueAt: deps.clock.now() + RECONCILE_AFTER_MS,
    maxAttempts: RECONCILE_MAX_ATTEMPTS,
  });
  return { id: job.id, due_at: job.due_at };
}
