/**
 * The transaction the API shows, computed from its Stripe snapshots alone:
 * same snapshots, same transaction, whatever order the events came in.
 */
import { disputeTook, isPiFailure, isPiTerminal, refundCounts } from "./snapshots.ts";
import type { ChargeSnap, Transaction, TxnStatus, TxnSync } from "../../domain/transaction.ts";

function byCreated<T extends { created: number; id: string }>(a: T, b: T): number {
  return a.created - b.created || a.id.localeCompare(b.id);
}

function isPaid(c: ChargeSnap): boolean {
  return c.status === "succeeded" && c.captured;
}

/**
 * An authorization released by a refund: Stripe "refunds" an uncaptured charge in full and moves
 * no money (README, "Transactions and money edges"); that refund is no refund of a payment.
 */
function isReleased(c: ChargeSnap): boolean {
  return c.status === "succeeded" && !c.captured && c.amount > 0 && c.amount_refunded >= c.amount;
}

/** The charge that speaks for the payment: the paid one, else the PI's latest, else the newest. */
export function chosenCharge(sync: TxnSync): ChargeSnap | null {
  const charges = Object.values(sync.charges).sort(byCreated);
  const succeeded = charges.filter((c) => c.status === "succeeded");
  if (succeeded.length) return succeeded[succeeded.length - 1];
  const latest = sync.pi?.latest_charge;
  if (latest && sync.charges[latest]) return sync.charges[latest];
  return charges[charges.length - 1] ?? null;
}

function deriveStatus(sync: TxnSync, chosen: ChargeSnap | null): TxnStatus {
  const pi = sync.pi;
  const anyPaid = Object.values(sync.charges).some(isPaid);
  if (pi) {
    if (isPiTerminal(pi.status)) return pi.status as TxnStatus;
    // A charge.succeeded proves the payment even before payment_intent.succeeded arrives.
    if (anyPaid) return "succeeded";
    if (isPiFailure(pi)) return "failed";
    return pi.status as TxnStatus;
  }
  if (anyPaid) return "succeeded";
  if (!chosen) return "unknown";
  if (chosen.status === "succeeded") return isReleased(chosen) ? "canceled" : "requires_capture";
  if (chosen.status === "failed") return "failed";
  return "processing";
}

/**
 * The currency the money moved in: a paid charge's, else a succeeded PaymentIntent's, else a
 * refund's or dispute's; null while none moved. A PaymentIntent's currency may change until it
 * is paid, so an earlier snapshot's does not count.
 */
export function moneyCurrency(sync: TxnSync): string | null {
  const paid = Object.values(sync.charges).filter(isPaid).sort(byCreated)[0];
  if (paid) return paid.currency;
  if (sync.pi?.status === "succeeded") return sync.pi.currency;
  const money = [...Object.values(sync.refunds), ...Object.values(sync.disputes)].sort(byCreated);
  return money[0]?.currency ?? null;
}

/**
 * The payment's customer as Stripe has it last: a final PaymentIntent's; before that, a paid
 * charge's (the PaymentIntent snapshot held is older than the payment, and its customer may
 * have changed since); else the PaymentIntent's, then its charges'.
 */
export function paymentCustomer(sync: TxnSync, chosen: ChargeSnap | null): string | null {
  const pi = sync.pi;
  const charges = Object.values(sync.charges).sort(byCreated);
  const paid = charges.filter(isPaid).reverse();
  return firstOf([
    pi && isPiTerminal(pi.status) ? pi.customer : null,
    ...paid.map((c) => c.customer),
    pi?.customer,
    chosen?.customer,
    ...charges.map((c) => c.customer),
  ]);
}

/** What the customer has paid on this transaction so far (before refunds and disputes). */
export function paidAmount(sync: TxnSync): number {
  const pi = sync.pi;
  const fromPi = pi?.status === "succeeded" ? (pi.amount_received || pi.amount) : 0;
  const fromCharges = Object.values(sync.charges).filter(isPaid)
    .reduce((n, c) => n + c.amount_captured, 0);
  return Math.max(fromPi, fromCharges);
}

export function refundedAmount(sync: TxnSync): number {
  const released = new Set(Object.values(sync.charges).filter(isReleased).map((c) => c.id));
  return Object.values(sync.refunds)
    .filter((r) => refundCounts(r.status) && !(r.charge && released.has(r.charge)))
    .reduce((n, r) => n + r.amount, 0);
}

/**
 * What Stripe captured, as far as we know: the payment's own objects say it;
 * before they arrive, a refund Stripe accepted proves at least its amount was
 * captured, so `amount_refunded <= amount_captured` holds at every instant.
 */
export function capturedAmount(sync: TxnSync): number {
  return Math.max(paidAmount(sync), refundedAmount(sync));
}

/** What an authorization still holds: a PaymentIntent in `requires_capture`, or a legacy charge. */
export function capturableAmount(sync: TxnSync, status: TxnStatus): number {
  if (status !== "requires_capture") return 0;
  const pi = sync.pi;
  if (pi) return pi.amount_capturable ?? pi.amount;
  const held = Object.values(sync.charges).filter((c) => c.status === "succeeded" && !c.captured);
  return held.reduce((n, c) => n + Math.max(0, c.amount - c.amount_refunded), 0);
}

/**
 * Why the payment failed, every code from one attempt, the latest: the PaymentIntent's error
 * when it has one (a charge fills in only what the error leaves out, and only the charge the
 * error names: a 3-D Secure failure names none, and the charge still `latest_charge` is an
 * earlier attempt's decline), else the failed charge's own.
 */
function failureFields(sync: TxnSync, status: TxnStatus, chosen: ChargeSnap | null) {
  const none = { failure_code: null, decline_code: null, advice_code: null, failure_message: null };
  if (status !== "failed") return none;
  const error = sync.pi?.error ?? null;
  const charge = error ? (error.charge ? sync.charges[error.charge] : null) ?? null : chosen;
  return {
    failure_code: error?.code ?? charge?.failure_code ?? null,
    decline_code: error?.decline_code ?? charge?.decline_code ?? null,
    advice_code: error?.advice_code ?? charge?.advice_code ?? null,
    failure_message: error?.message ?? charge?.failure_message ?? null,
  };
}

function firstOf<T>(values: (T | null | undefined)[]): T | null {
  for (const v of values) if (v !== null && v !== undefined) return v;
  return null;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/**
 * `base` carries what is not Stripe's to decide: the id, the refunds service's
 * `amount_reserved`, and the PaymentIntent id a stub was created for.
 */
export function deriveTransaction(
  sync: TxnSync,
  base: { id: string; amount_reserved: number; stripe_payment_intent: string | null },
  now: number,
): Transaction {
  const pi = sync.pi;
  const chosen = chosenCharge(sync);
  const charges = Object.values(sync.charges).sort(byCreated);
  const refunds = Object.values(sync.refunds).sort(byCreated);
  const disputes = Object.values(sync.disputes).sort(byCreated);
  const status = deriveStatus(sync, chosen);
  const money = [...refunds, ...disputes];
  // A stub (only a refund, dispute or signal seen yet) dates from its earliest object.
  const others = [...money, ...Object.values(sync.efws), ...Object.values(sync.reviews)];
  const created = pi?.created ?? charges[0]?.created ??
    (others.length ? Math.min(...others.map((o) => o.created)) : Math.floor(now / 1000));
  const captured = capturedAmount(sync);
  return {
    id: base.id,
    customer: paymentCustomer(sync, chosen),
    amount: Math.max(pi?.amount ?? chosen?.amount ?? 0, captured),
    amount_captured: captured,
    amount_capturable: capturableAmount(sync, status),
    currency: firstOf([moneyCurrency(sync), pi?.currency, chosen?.currency]) ?? "",
    status,
    amount_refunded: refundedAmount(sync),
    amount_reserved: base.amount_reserved,
    amount_disputed: disputes.reduce((n, d) => n + disputeTook(d), 0),
    stripe_payment_intent: pi?.id ?? base.stripe_payment_intent,
    stripe_charge: chosen?.id ?? pi?.latest_charge ??
      firstOf([...refunds.map((r) => r.charge), ...disputes.map((d) => d.charge)]),
    created: iso(created),
    description: pi?.description ?? chosen?.description ?? null,
    payment_method: chosen?.payment_method ?? pi?.error?.payment_method ?? null,
    ...failureFields(sync, status, chosen),
    risk_level: chosen?.risk_level ?? null,
    risk_score: chosen?.risk_score ?? null,
    dispute_status: disputes.length ? disputes[disputes.length - 1].status : null,
    risk_signals: {
      early_fraud_warnings: Object.values(sync.efws).sort(byCreated).map((w) => ({
        id: w.id,
        fraud_type: w.fraud_type,
        actionable: w.actionable,
        created: iso(w.created),
      })),
      reviews: Object.values(sync.reviews).sort(byCreated).map((r) => ({
        id: r.id,
        open: r.open,
        reason: r.reason,
        opened_reason: r.opened_reason,
        closed_reason: r.closed_reason,
        created: iso(r.created),
      })),
    },
    updated_at: new Date(now).toISOString(),
  };
}

/** Equal but for `updated_at`: nothing worth writing. */
export function sameTransaction(a: Transaction | null, b: Transaction): boolean {
  if (!a) return false;
  return JSON.stringify({ ...a, updated_at: "" }) === JSON.stringify({ ...b, updated_at: "" });
}
