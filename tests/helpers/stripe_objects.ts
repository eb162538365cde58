/**
 * Small builders of Stripe objects and events with the fields and shapes the
 * API sends (API version 2026-10-28: charges carry no `refunds` list unless a
 * test asks for the older shape). `paymentStory` builds the events of one
 * card payment, step by step, for ordering tests.
 */
import type Stripe from "stripe";
import { EVIDENCE_FIELDS } from "../../emulator/dispute_evidence.ts";
import { cardPaymentMethodOptions } from "../../emulator/payment_intents.ts";
import { CHARGE_EMPTY_FIELDS } from "../../emulator/charges.ts";

/** 2026-11-26T08:00:00Z in seconds: an hour before tests/helpers/app.ts's clock. */
export const T0 = Date.UTC(2026, 10, 26, 8, 0, 0) / 1000;

let seq = 0;
/** A Stripe-looking id, unique in this process: `testId("pi")` -> `pi_3T0000000001…` */
export function testId(prefix: string): string {
  seq++;
  return `${prefix}_3T${String(seq).padStart(8, "0")}${crypto.randomUUID().slice(0, 8)}`;
}

export interface Card {
  brand: string;
  last4: string;
  fingerprint: string;
}

export const VISA: Card = { brand: "visa", last4: "4242", fingerprint: "Xt5EWLLDS7FJjR1c" };
export const MASTERCARD: Card = {
  brand: "mastercard",
  last4: "4444",
  fingerprint: "Ab3kP0qLmN8sT2vW",
};

/** A card with its own fingerprint (card testing: many cards, one customer). */
export function otherCard(n: number): Card {
  return { brand: "visa", last4: String(1000 + n).slice(-4), fingerprint: `fpTest${n}` };
}

export function cardPaymentMethod(
  o: { id?: string; customer?: string | null; card?: Card; created?: number } = {},
): Stripe.PaymentMethod {
  const card = o.card ?? VISA;
  return {
    id: o.id ?? testId("pm"),
    object: "payment_method",
    allow_redisplay: "unspecified",
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: "US",
      display_brand: card.brand,
      exp_month: 12,
      exp_year: 2030,
      fingerprint: card.fingerprint,
      funding: "credit",
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: "unregulated",
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: o.created ?? T0,
    customer: o.customer ?? null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: "card",
  } as unknown as Stripe.PaymentMethod;
}

export function customerObject(
  o: { id?: string; email?: string | null; name?: string | null; created?: number } = {},
): Stripe.Customer {
  return {
    id: o.id ?? testId("cus"),
    object: "customer",
    address: null,
    balance: 0,
    created: o.created ?? T0,
    currency: null,
    default_source: null,
    delinquent: false,
    description: null,
    email: o.email === undefined ? "jane.doe@example.com" : o.email,
    invoice_prefix: "A1B2C3D4",
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: {},
    name: o.name === undefined ? "Jane Doe" : o.name,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
  } as unknown as Stripe.Customer;
}

export interface Decline {
  code: string;
  decline_code: string;
  advice_code: string;
  message: string;
}

export const INSUFFICIENT_FUNDS: Decline = {
  code: "card_declined",
  decline_code: "insufficient_funds",
  advice_code: "try_again_later",
  message: "Your card has insufficient funds.",
};

export const GENERIC_DECLINE: Decline = {
  code: "card_declined",
  decline_code: "generic_decline",
  advice_code: "try_again_later",
  message: "Your card was declined.",
};

export interface ChargeInput {
  id?: string;
  payment_intent?: string | null;
  amount?: number;
  currency?: string;
  customer?: string | null;
  status?: "succeeded" | "failed" | "pending";
  created?: number;
  card?: Card;
  decline?: Decline;
  risk?: { level: string; score: number };
  amount_refunded?: number;
  /** the pre-2022-11-15 shape: the charge lists its refunds */
  refunds?: Stripe.Refund[];
  disputed?: boolean;
}

export function chargeObject(o: ChargeInput = {}): Stripe.Charge {
  const card = o.card ?? VISA;
  const status = o.status ?? "succeeded";
  const ok = status === "succeeded";
  const amount = o.amount ?? 2500;
  const risk = o.risk ?? { level: "normal", score: 23 };
  const refunded = o.amount_refunded ?? 0;
  const amountCaptured = ok ? amount : 0;
  return {
    id: o.id ?? testId("ch"),
    object: "charge",
    amount,
    amount_captured: amountCaptured,
    amount_refunded: refunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: ok ? testId("txn") : null,
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: "PAYOPS",
    captured: ok,
    created: o.created ?? T0,
    currency: o.currency ?? "usd",
    customer: o.customer ?? null,
    description: null,
    disputed: o.disputed ?? false,
    failure_balance_transaction: null,
    failure_code: o.decline?.code ?? null,
    failure_message: o.decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: o.decline
      ? {
        advice_code: o.decline.advice_code,
        network_advice_code: null,
        network_decline_code: null,
        network_status: "declined_by_network",
        reason: o.decline.decline_code,
        risk_level: risk.level,
        risk_score: risk.score,
        seller_message: `The bank returned the decline code \`${o.decline.decline_code}\`.`,
        type: "issuer_declined",
      }
      : {
        advice_code: null,
        network_advice_code: null,
        network_decline_code: null,
        network_status: "approved_by_network",
        reason: null,
        risk_level: risk.level,
        risk_score: risk.score,
        seller_message: "Payment complete.",
        type: "authorized",
      },
    paid: ok,
    payment_intent: o.payment_intent ?? null,
    payment_method: testId("pm"),
    payment_method_details: {
      card: {
        amount_authorized: ok ? amount : null,
        authorization_code: ok ? "123456" : null,
        brand: card.brand,
        checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
        country: "US",
        electronic_commerce_indicator: null,
        exp_month: 12,
        exp_year: 2030,
        fingerprint: card.fingerprint,
        funding: "credit",
        installments: null,
        last4: card.last4,
        mandate: null,
        network: card.brand,
        network_transaction_id: ok ? "104557651805572" : null,
        regulated_status: "unregulated",
        three_d_secure: null,
        transaction_link_id: null,
        wallet: null,
      },
      type: "card",
    },
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: refunded > 0 && refunded >= amount,
    ...(o.refunds
      ? {
        refunds: {
          object: "list",
          data: o.refunds,
          has_more: false,
          url: "/v1/refunds",
        },
      }
      : {}),
    ...CHARGE_EMPTY_FIELDS,
    status,
    transfer_data: null,
    transfer_group: null,
  } as unknown as Stripe.Charge;
}

export interface PaymentIntentInput {
  id?: string;
  amount?: number;
  currency?: string;
  customer?: string | null;
  status?: Stripe.PaymentIntent.Status;
  created?: number;
  latest_charge?: string | null;
  decline?: Decline & { charge: string | null; card?: Card };
  description?: string | null;
}

export function paymentIntentObject(o: PaymentIntentInput = {}): Stripe.PaymentIntent {
  const amount = o.amount ?? 2500;
  const status = o.status ?? "requires_payment_method";
  return {
    id: o.id ?? testId("pi"),
    object: "payment_intent",
    allowed_payment_method_types: null,
    amount,
    amount_capturable: 0,
    amount_received: status === "succeeded" ? amount : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic_async",
    client_secret: "pi_secret_redacted",
    confirmation_method: "automatic",
    created: o.created ?? T0,
    currency: o.currency ?? "usd",
    customer: o.customer ?? null,
    customer_account: null,
    description: o.description ?? "Order #1042",
    excluded_payment_method_types: null,
    last_payment_error: o.decline
      ? {
        type: "card_error",
        code: o.decline.code,
        decline_code: o.decline.decline_code,
        advice_code: o.decline.advice_code,
        message: o.decline.message,
        ...(o.decline.charge ? { charge: o.decline.charge } : {}),
        payment_method: cardPaymentMethod({ card: o.decline.card }),
        payment_method_type: "card",
      }
      : null,
    latest_charge: o.latest_charge ?? null,
    livemode: false,
    managed_payments: null,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: cardPaymentMethodOptions(),
    payment_method_types: ["card"],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status,
    transfer_group: null,
  } as unknown as Stripe.PaymentIntent;
}

/**
 * The PaymentIntent a refund, dispute, review or warning points at: every charge made through
 * a PaymentIntent has one, so builders invent one unless told `null` (a legacy charge).
 */
function paymentIntentOf(given: string | null | undefined): string | null {
  return given === undefined ? testId("pi") : given;
}

export interface RefundInput {
  id?: string;
  charge: string;
  payment_intent?: string | null;
  customer?: string | null;
  amount: number;
  currency?: string;
  status?: string;
  created?: number;
  refund_id?: string;
  failure_reason?: string;
}

export function refundObject(o: RefundInput): Stripe.Refund {
  const failed = o.failure_reason !== undefined;
  return {
    id: o.id ?? testId("re"),
    object: "refund",
    amount: o.amount,
    balance_transaction: testId("txn"),
    charge: o.charge,
    created: o.created ?? T0,
    currency: o.currency ?? "usd",
    customer: o.customer ?? null,
    customer_account: null,
    destination_details: { card: { type: "refund", reference_status: "pending" }, type: "card" },
    // Stripe adds these two only once a refund has failed.
    ...(failed
      ? { failure_balance_transaction: testId("txn"), failure_reason: o.failure_reason }
      : {}),
    metadata: o.refund_id ? { refund_id: o.refund_id } : {},
    payment_intent: paymentIntentOf(o.payment_intent),
    payment_method: testId("pm"),
    reason: "requested_by_customer",
    receipt_number: null,
    source_transfer_reversal: null,
    status: o.status ?? "succeeded",
    transfer_reversal: null,
  } as unknown as Stripe.Refund;
}

export interface DisputeInput {
  id?: string;
  charge: string;
  payment_intent?: string | null;
  amount: number;
  currency?: string;
  status?: Stripe.Dispute.Status;
  created?: number;
  reason?: string;
  /** balance transactions present on the object */
  withdrawn?: boolean;
  reinstated?: boolean;
  submission_count?: number;
  /** `evidence_details.due_by` (default: 7 days after `created`) */
  due_by?: number | null;
  /** `evidence_details.past_due` (default false) */
  past_due?: boolean;
}

export function disputeObject(o: DisputeInput): Stripe.Dispute {
  const created = o.created ?? T0;
  const id = o.id ?? testId("du");
  const currency = o.currency ?? "usd";
  const bt = (sign: 1 | -1) => {
    const fee = sign < 0 ? 1500 : -1500;
    return {
      id: testId("txn"),
      object: "balance_transaction",
      amount: sign * o.amount,
      available_on: created,
      balance_type: "payments",
      created,
      currency,
      description: `Chargeback ${sign < 0 ? "withdrawal" : "reversal"} for ${o.charge}`,
      exchange_rate: null,
      fee,
      fee_details: [
        {
          amount: fee,
          application: null,
          currency,
          description: "Dispute fee",
          type: "stripe_fee",
        },
      ],
      net: sign * o.amount - fee,
      reporting_category: sign < 0 ? "dispute" : "dispute_reversal",
      source: id,
      status: "available",
      type: "adjustment",
    };
  };
  const submissions = o.submission_count ?? 0;
  const inquiry = (o.status ?? "").startsWith("warning_");
  return {
    id,
    object: "dispute",
    amount: o.amount,
    balance_transactions: [
      ...(o.withdrawn ? [bt(-1)] : []),
      ...(o.reinstated ? [bt(1)] : []),
    ],
    charge: o.charge,
    created,
    currency,
    enhanced_eligibility_types: [],
    evidence: {
      ...Object.fromEntries(EVIDENCE_FIELDS.map((f) => [f, null])),
      enhanced_evidence: {},
    },
    evidence_details: {
      due_by: o.due_by === undefined ? created + 7 * 24 * 3600 : o.due_by,
      enhanced_eligibility: {},
      has_evidence: submissions > 0,
      past_due: o.past_due ?? false,
      submission_count: submissions,
      submission_method: submissions > 0 ? "manual" : "not_submitted",
    },
    intended_submission_method: null,
    is_charge_refundable: inquiry,
    livemode: false,
    metadata: {},
    network_reason_code: "10.4",
    payment_intent: paymentIntentOf(o.payment_intent),
    payment_method_details: {
      card: {
        brand: "visa",
        case_type: inquiry ? "inquiry" : "chargeback",
        network: "visa",
        network_reason_code: "10.4",
      },
      type: "card",
    },
    reason: o.reason ?? "fraudulent",
    status: o.status ?? "needs_response",
  } as unknown as Stripe.Dispute;
}

export function earlyFraudWarningObject(
  o: {
    id?: string;
    charge: string;
    payment_intent?: string | null;
    actionable?: boolean;
    created?: number;
  },
): Stripe.Radar.EarlyFraudWarning {
  const pi = paymentIntentOf(o.payment_intent);
  return {
    id: o.id ?? testId("issfr"),
    object: "radar.early_fraud_warning",
    actionable: o.actionable ?? true,
    charge: o.charge,
    created: o.created ?? T0,
    fraud_type: "made_with_stolen_card",
    livemode: false,
    // The SDK types it as present or absent, never null.
    ...(pi ? { payment_intent: pi } : {}),
  } as unknown as Stripe.Radar.EarlyFraudWarning;
}

export function reviewObject(
  o: {
    id?: string;
    charge: string;
    payment_intent?: string | null;
    open?: boolean;
    created?: number;
  },
): Stripe.Review {
  const open = o.open ?? true;
  const pi = paymentIntentOf(o.payment_intent);
  return {
    id: o.id ?? testId("prv"),
    object: "review",
    billing_zip: null,
    charge: o.charge,
    closed_reason: open ? null : "approved",
    created: o.created ?? T0,
    ip_address: null,
    ip_address_location: null,
    livemode: false,
    open,
    opened_reason: "rule",
    ...(pi ? { payment_intent: pi } : {}),
    reason: open ? "rule" : "approved",
    session: null,
  } as unknown as Stripe.Review;
}

/** An event as Stripe delivers it. */
export function stripeEvent(
  type: string,
  object: { id: string },
  created: number,
  o: { id?: string; previous?: Record<string, unknown>; request?: string | null } = {},
): Stripe.Event {
  return {
    id: o.id ?? testId("evt"),
    object: "event",
    api_version: "2026-10-28.endive",
    created,
    data: o.previous ? { object, previous_attributes: o.previous } : { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: o.request ?? null, idempotency_key: null },
    type,
  } as unknown as Stripe.Event;
}

/**
 * A card payment's `charge.succeeded` (or, `failed`, its `charge.failed` with
 * a generic decline) at second `at`, for its own new PaymentIntent.
 */
export function chargeEvent(
  customer: string,
  at: number,
  o: { failed?: boolean; amount?: number; card?: Card } = {},
): Stripe.Event {
  const ch = chargeObject({
    id: testId("ch"),
    payment_intent: testId("pi"),
    customer,
    amount: o.amount ?? 700,
    created: at,
    status: o.failed ? "failed" : "succeeded",
    card: o.card ?? VISA,
    ...(o.failed ? { decline: GENERIC_DECLINE } : {}),
  });
  return stripeEvent(o.failed ? "charge.failed" : "charge.succeeded", ch, at);
}

/**
 * The events of one card payment, built step by step: `story.created(t)`,
 * `story.succeeded(t)` (charge.succeeded + payment_intent.succeeded),
 * `story.refund(t, amount)`, `story.dispute(t)` …, each at second `t`.
 */
export function paymentStory(
  o: { customer?: string | null; amount?: number; currency?: string; card?: Card } = {},
) {
  const pi = testId("pi");
  const ch = testId("ch");
  const amount = o.amount ?? 2500;
  const currency = o.currency ?? "usd";
  const customer = o.customer ?? null;
  const card = o.card ?? VISA;
  let created = T0;
  let chargedAt = T0;
  const base = () => ({ id: pi, amount, currency, customer, created });
  const charge = (t: number, extra: Partial<ChargeInput> = {}) =>
    chargeObject({
      id: ch,
      payment_intent: pi,
      amount,
      currency,
      customer,
      card,
      created: t,
      ...extra,
    });
  const refunds: Stripe.Refund[] = [];
  return {
    pi,
    ch,
    amount,
    created(t: number) {
      created = t;
      return stripeEvent("payment_intent.created", paymentIntentObject(base()), t);
    },
    processing(t: number) {
      return stripeEvent(
        "payment_intent.processing",
        paymentIntentObject({ ...base(), status: "processing", latest_charge: ch }),
        t,
      );
    },
    chargeSucceeded(t: number) {
      chargedAt = t;
      return stripeEvent("charge.succeeded", charge(t), t);
    },
    piSucceeded(t: number) {
      return stripeEvent(
        "payment_intent.succeeded",
        paymentIntentObject({ ...base(), status: "succeeded", latest_charge: ch }),
        t,
      );
    },
    succeeded(t: number) {
      return [this.chargeSucceeded(t), this.piSucceeded(t)];
    },
    /** refund.created (+ `charge.refunded`, which lists the refunds when `listRefunds`) */
    refund(
      t: number,
      amount: number,
      opts: { id?: string; status?: string; refund_id?: string; listRefunds?: boolean } = {},
    ) {
      const re = refundObject({
        id: opts.id,
        charge: ch,
        payment_intent: pi,
        amount,
        currency,
        status: opts.status ?? "succeeded",
        created: t,
        refund_id: opts.refund_id,
      });
      refunds.push(re);
      const total = refunds.reduce((n, r) => n + r.amount, 0);
      return {
        refund: re,
        created: stripeEvent("refund.created", re, t),
        chargeRefunded: stripeEvent(
          "charge.refunded",
          charge(chargedAt, {
            amount_refunded: total,
            refunds: opts.listRefunds === false ? undefined : [...refunds],
          }),
          t,
        ),
      };
    },
    refundUpdated(t: number, re: Stripe.Refund, status: string, type = "refund.updated") {
      const next = refundObject({
        id: re.id,
        charge: ch,
        payment_intent: pi,
        amount: re.amount,
        currency,
        status,
        created: re.created,
        refund_id: re.metadata?.refund_id,
        failure_reason: status === "failed" ? "expired_or_canceled_card" : undefined,
      });
      return stripeEvent(type, next, t, { previous: { status: re.status } });
    },
    dispute(
      t: number,
      type: string,
      d: Omit<DisputeInput, "charge" | "amount"> & { id: string; amount?: number },
    ) {
      return stripeEvent(
        type,
        disputeObject({
          charge: ch,
          payment_intent: pi,
          amount: d.amount ?? amount,
          currency,
          created: d.created ?? t,
          ...d,
        }),
        t,
      );
    },
    /** `payment_intent.requires_action`: the card asks for 3-D Secure */
    requiresAction(t: number) {
      const object = { ...paymentIntentObject(base()), status: "requires_action" };
      return stripeEvent("payment_intent.requires_action", object, t);
    },
    /**
     * `payment_intent.payment_failed` after a failed 3-D Secure challenge: Stripe
     * made no charge, so only the PaymentIntent's error tells of the attempt.
     */
    authenticationFailed(t: number) {
      const pi = paymentIntentObject(base());
      const object = {
        ...pi,
        last_payment_error: {
          type: "invalid_request_error",
          code: "payment_intent_authentication_failure",
          message: "The provided PaymentMethod has failed authentication.",
          payment_method: cardPaymentMethod({ card }),
          payment_method_type: "card",
        },
      };
      return stripeEvent("payment_intent.payment_failed", object, t);
    },
    failed(t: number, decline: Decline = GENERIC_DECLINE, chargeId = testId("ch")) {
      return [
        stripeEvent(
          "charge.failed",
          charge(t, { id: chargeId, status: "failed", decline }),
          t,
        ),
        stripeEvent(
          "payment_intent.payment_failed",
          paymentIntentObject({
            ...base(),
            status: "requires_payment_method",
            latest_charge: chargeId,
            decline: { ...decline, charge: chargeId, card },
          }),
          t,
        ),
      ];
    },
  };
}

export type PaymentStory = ReturnType<typeof paymentStory>;
