import { balanceTransaction, cardFee } from "./balance.ts";
import { behaviorOf, type CardBehavior, type Decline } from "./cards.ts";
import { type Ctx, nowSec } from "./context.ts";
import { createDispute } from "./disputes.ts";
import { invalidRequest } from "./errors.ts";
import { randomToken } from "./ids.ts";
import { newId } from "./ids.ts";
import { chargeOutcome, declineOf, rateLimited, rateLimitedOutcome } from "./outcomes.ts";
import { createEarlyFraudWarning } from "./radar.ts";
import { openReview } from "./reviews.ts";
import { put, type StripeObject } from "./store.ts";

export interface ChargeInput {
  amount: number;
  currency: string;
  customer: string | null;
  paymentIntent: string | null;
  paymentMethodId: string;
  card: StripeObject;
  billingDetails: StripeObject;
  description: string | null;
  metadata: Record<string, string>;
  receiptEmail?: string | null;
  /** false for `capture_method: manual`: the card is only authorized. */
  capture: boolean;
  /** 3D Secure done (or not needed, as for a card set up for off-session use). */
  authenticated: boolean;
  /** confirmed with `off_session: true`: a merchant-initiated payment */
  offSession?: boolean;
}

export interface ChargeResult {
  charge: StripeObject;
  behavior: CardBehavior;
  decline: Decline | null;
}

const DAY_MS = 24 * 3600 * 1000;
const AUTHORIZATION_DAYS = 7;
const VISA_MIT_AUTHORIZATION_S = (4 * 24 + 18) * 3600;
/** Stripe refuses a card after "too many" declines in 24 h; it does not say how many. */
export const DECLINE_RATE_LIMIT = 10;

function recentDeclines(ctx: Ctx, fingerprint: string): number[] {
  const since = ctx.now() - DAY_MS;
  const times = (ctx.store.declines.get(fingerprint) ?? []).filter((t) => t > since);
  ctx.store.declines.set(fingerprint, times);
  return times;
}

/**
 * A new charge's fields the emulator leaves empty: no shipping, sources or
 * statement descriptors (a review is linked later, emulator/reviews.ts).
 */
export const CHARGE_EMPTY_FIELDS = {
  review: null,
  shipping: null,
  source: null,
  source_transfer: null,
  statement_descriptor: null,
  statement_descriptor_suffix: null,
} as const;

/** Creates and stores the charge; the caller emits events so they come in Stripe's order. */
export function chargeCard(ctx: Ctx, input: ChargeInput): ChargeResult {
  const behavior = behaviorOf(input.card.fingerprint);
  const declines = recentDeclines(ctx, input.card.fingerprint);
  const limited = declines.length >= DECLINE_RATE_LIMIT;
  const decline = limited ? rateLimited() : declineOf(behavior, !input.authenticated);
  if (decline && !limited) declines.push(ctx.now());
  const ok = decline === null;
  const created = nowSec(ctx);
  const outcome = limited ? rateLimitedOutcome() : chargeOutcome(behavior, decline);
  const charge: StripeObject = {
    id: newId("ch"),
    object: "charge",
    amount: input.amount,
    amount_captured: 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: input.billingDetails,
    calculated_statement_descriptor: "EMULATOR",
    captured: false,
    created,
    currency: input.currency,
    customer: input.customer,
    description: input.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: decline?.code ?? null,
    failure_message: decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: input.metadata,
    on_behalf_of: null,
    outcome,
    paid: ok,
    payment_intent: input.paymentIntent,
    payment_method: input.paymentMethodId,
    payment_method_details: {
      card: cardDetailsOfCharge(input, ok, created),
      type: "card",
    },
    receipt_email: input.receiptEmail ?? null,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    ...CHARGE_EMPTY_FIELDS,
    status: ok ? "succeeded" : "failed",
    transfer_data: null,
    transfer_group: null,
  };
  if (ok && input.capture) settleCapture(ctx, charge, input.amount);
  put(ctx.store, "charges", charge);
  return { charge, behavior, decline };
}

function cardDetailsOfCharge(input: ChargeInput, ok: boolean, created: number): StripeObject {
  const { card } = input;
  const details: StripeObject = {
    amount_authorized: ok ? input.amount : null,
    authorization_code: ok ? String(100000 + Math.floor(Math.random() * 900000)) : null,
    brand: card.brand,
    checks: card.checks,
    country: card.country,
    electronic_commerce_indicator: null,
    exp_month: card.exp_month,
    exp_year: card.exp_year,
    fingerprint: card.fingerprint,
    funding: card.funding,
    installments: null,
    last4: card.last4,
    mandate: null,
    network: card.brand,
    network_transaction_id: ok ? randomToken(15) : null,
    regulated_status: card.regulated_status ?? "unregulated",
    three_d_secure: null,
    transaction_link_id: null,
    wallet: null,
  };
  // An authorization Stripe holds for later capture lapses after 7 days for cards, a Visa
  // merchant-initiated one after 4 days 18 hours (README "Retrying failed payments").
  const window = input.offSession && card.brand === "visa"
    ? VISA_MIT_AUTHORIZATION_S
    : AUTHORIZATION_DAYS * 24 * 3600;
  if (ok && !input.capture) details.capture_before = created + window;
  return details;
}

/**
 * Captures `amount` of an authorized charge. Stripe releases the rest of a partial capture
 * at once, and shows the released part in `amount_refunded`.
 */
export function settleCapture(ctx: Ctx, charge: StripeObject, amount: number): void {
  const txn = balanceTransaction(ctx, {
    amount,
    currency: charge.currency,
    type: "charge",
    reportingCategory: "charge",
    source: charge.id,
    description: charge.description,
    fee: cardFee(amount),
    pending: true,
  });
  Object.assign(charge, {
    captured: true,
    amount_captured: amount,
    amount_refunded: charge.amount - amount,
    balance_transaction: txn.id,
  });
  charge.refunded = charge.amount_refunded >= charge.amount;
}

/** Validates `amount_to_capture` (`amount` for legacy charges) against what is capturable. */
export function captureAmount(raw: number | undefined, capturable: number, param: string): number {
  const amount = raw ?? capturable;
  if (amount < 1 || amount > capturable) {
    throw invalidRequest(
      `The ${param} (${amount}) must be between 1 and the capturable amount (${capturable}).`,
      { code: "amount_too_large", param },
    );
  }
  return amount;
}

/** Side effects Stripe's test cards trigger after a successful charge (its events come first). */
export function afterCharge(ctx: Ctx, result: ChargeResult): void {
  if (result.behavior.kind !== "ok") return;
  if (result.behavior.risk === "elevated") openReview(ctx, result.charge);
  const chargeId = result.charge.id;
  const after = result.behavior.after;
  if (after === "dispute" || after === "dispute_inquiry" || after === "dispute_not_received") {
    ctx.bus.schedule(() => createDispute(ctx, chargeId, after), ctx.disputeDelayMs);
  } else if (after === "early_fraud_warning") {
    ctx.bus.schedule(() => createEarlyFraudWarning(ctx, chargeId), 0);
  }
}
