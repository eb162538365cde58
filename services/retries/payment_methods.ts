/**
 * The payment method a retry charges: it must be saved on the payment's own
 * customer. One that is not saved anywhere yet (in test mode, also Stripe's
 * test ids such as `pm_card_visa`) is attached to that customer first, and
 * the attachment is audited; one saved on another customer is refused
 * (`payment_method_not_allowed`): an operator must never charge one
 * customer's card for another's payment.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError, notFound, validationFailed } from "../../core/errors.ts";
import { stripeOutcome } from "../stripe/mod.ts";
import { type CardSummary, getPaymentMethodsLastUsed } from "../../kv/retries.ts";
import { bindParts } from "../../core/bind.ts";

export interface SavedPaymentMethodView extends CardSummary {
  id: string;
  created: string;
  /** the last retry that charged it (ISO 8601), null when none */
  last_used: string | null;
}

const TEST_ID = /^pm_card_[A-Za-z]+$/;

function requestIdOf(obj: unknown): string | null {
  return (obj as { lastResponse?: { requestId?: string } }).lastResponse?.requestId ?? null;
}

export function cardSummary(pm: Stripe.PaymentMethod): CardSummary {
  const card = pm.card;
  return {
    type: pm.type,
    brand: card?.brand ?? null,
    last4: card?.last4 ?? null,
    exp_month: card?.exp_month ?? null,
    exp_year: card?.exp_year ?? null,
    fingerprint: card?.fingerprint ?? null,
  };
}

function idOf(v: string | { id: string } | null | undefined): string | null {
  return v == null ? null : typeof v === "string" ? v : v.id;
}

/** Where a payment method is saved: the customer, and the idempotency key of the one request. */
interface Attachment {
  customer: string;
  key: string;
}

async function attach(
  p: PmParts,
  ctx: CallContext,
  requested: string,
  { customer, key }: Attachment,
): Promise<Stripe.PaymentMethod> {
  const { deps, svc } = p;
  const pm = await deps.stripe.call(
    (s) => s.paymentMethods.attach(requested, { customer }, { idempotencyKey: key }),
    { label: "payment_methods.attach" },
  );
  await svc.audit.record(ctx, {
    action: "payment_method.attach",
    target: { type: "payment_method", id: pm.id },
    result: "ok",
    after: { customer, requested, card: cardSummary(pm) },
    reason: "saved on the payment's customer to retry the payment with it",
    stripe: { request_id: requestIdOf(pm), idempotency_key: key },
  });
  return pm;
}

async function retrieve(p: PmParts, requested: string): Promise<Stripe.PaymentMethod> {
  const { deps } = p;
  try {
    return await deps.stripe.call((s) => s.paymentMethods.retrieve(requested), {
      label: "payment_methods.retrieve",
    });
  } catch (error) {
    if (error instanceof AppError && stripeOutcome(error) === "definite") {
      throw validationFailed([{
        path: "body.payment_method",
        message: `Stripe does not know payment method ${requested}; pick one from ` +
          "GET /customers/{id}/payment-methods",
      }]);
    }
    throw error;
  }
}

/**
 * The payment method to confirm with, saved on `customer` (attached first
 * when it was saved nowhere). `key` makes the attachment one Stripe request.
 * `beforeAttach` judges the card first: a retry refused for its card leaves
 * nothing saved at Stripe (README, "Retrying failed payments": every rule is
 * checked before anything is sent).
 */
async function resolveForCustomer(
  p: PmParts,
  ctx: CallContext,
  requested: string,
  customer: string,
  key: string,
  beforeAttach: (pm: Stripe.PaymentMethod) => Promise<unknown> = () => Promise.resolve(),
): Promise<Stripe.PaymentMethod> {
  const { deps, svc } = p;
  if (TEST_ID.test(requested) && deps.config.stripe.livemode) {
    throw validationFailed([{
      path: "body.payment_method",
      message: "Stripe's test ids (pm_card_…) exist only in test mode; use a saved pm_…",
    }]);
  }
  // a test id retrieves as a fresh payment method, saved nowhere, as at Stripe
  const pm = await retrieve(p, requested);
  const owner = idOf(pm.customer);
  if (owner === customer) return pm;
  if (owner) {
    await svc.audit.record(ctx, {
      action: "retry.create",
      target: { type: "payment_method", id: pm.id },
      result: "denied",
      reason: `payment method saved on another customer (${owner}), not ${customer}`,
    });
    throw new AppError(
      "payment_method_not_allowed",
      `payment method ${pm.id} is saved on another customer; a payment of ${customer} can ` +
        "only be retried with one of its own (GET /customers/{id}/payment-methods)",
      { extra: { payment_method: pm.id } },
    );
  }
  await beforeAttach(pm);
  return await attach(p, ctx, pm.id, { customer, key });
}

/** GET /customers/{id}/payment-methods: what Stripe has saved, with our last use of each. */
async function listForCustomer(p: PmParts, customer: string): Promise<SavedPaymentMethodView[]> {
  const { kv, deps } = p;
  let list: Stripe.ApiList<Stripe.PaymentMethod>;
  try {
    list = await deps.stripe.call(
      (s) => s.customers.listPaymentMethods(customer, { limit: 100 }),
      { label: "customers.listPaymentMethods" },
    );
  } catch (error) {
    if (error instanceof AppError && stripeOutcome(error) === "definite") {
      throw notFound("customer", customer);
    }
    throw error;
  }
  const lastUsed = await getPaymentMethodsLastUsed(kv, list.data.map((pm) => pm.id));
  return list.data.map((pm) => ({
    id: pm.id,
    ...cardSummary(pm),
    created: new Date(pm.created * 1000).toISOString(),
    last_used: lastUsed.get(pm.id) ?? null,
  }));
}

/** What the factory's steps work with. */
interface PmParts {
  kv: Deno.Kv;
  deps: Deps;
  svc: { audit: AuditService };
}

export function createPaymentMethods(deps: Deps, svc: { audit: AuditService }) {
  const p: PmParts = { kv: deps.kv, deps, svc };

  return {
    resolveForCustomer: bindParts(p, resolveForCustomer),
    listForCustomer: bindParts(p, listForCustomer),
  };
}

export type PaymentMethods = ReturnType<typeof createPaymentMethods>;
