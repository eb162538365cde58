/**
 * The payment method a retry charges: it must be saved on the payment's own
 * customer. One that is not saved anywhere yet (in test mode, also Stripe's
 * test ids such as `pm_card_visa`) is attached to that customer once the
 * attempt is recorded (attach.ts), and audited; one saved on another customer is refused
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
import type { CursorSealer, Page } from "../../kv/pagination.ts";

export interface SavedPaymentMethodView extends CardSummary {
  id: string;
  created: string;
  /**
   * when a retry last tried it (ISO 8601): the card's answer, charged, authorized, sent for
   * authentication or declined (README "Retrying failed payments"); null when none did
   */
  last_used: string | null;
}

const TEST_ID = /^pm_card_[A-Za-z]+$/;

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

function stripeCode(error: unknown): string | null | undefined {
  return error instanceof AppError
    ? (error.extra?.stripe as { code?: string | null } | undefined)?.code
    : undefined;
}

async function retrieve(
  p: PmParts,
  requested: string,
  customer: string,
): Promise<Stripe.PaymentMethod> {
  const { deps } = p;
  try {
    return await deps.stripe.call((s) => s.paymentMethods.retrieve(requested), {
      label: "payment_methods.retrieve",
    });
  } catch (error) {
    // only Stripe saying there is no such payment method is the operator's mistake; a rate
    // limit (a definite "try again") or an outage is the 503 it came as (README "Stripe outages")
    if (stripeCode(error) === "resource_missing" && stripeOutcome(error) === "definite") {
      throw validationFailed([{
        path: "body.payment_method",
        message: `Stripe does not know payment method ${requested}; pick one from ` +
          `GET /api/admin/payments/customers/${customer}/payment-methods`,
      }]);
    }
    throw error;
  }
}

/** `id` if it is still saved on `customer` (null: detached or gone since). */
async function stillSaved(
  p: PmParts,
  id: string,
  customer: string,
): Promise<Stripe.PaymentMethod | null> {
  try {
    const pm = await p.deps.stripe.call((s) => s.paymentMethods.retrieve(id), {
      label: "payment_methods.retrieve",
    });
    return idOf(pm.customer) === customer ? pm : null;
  } catch (error) {
    if (stripeCode(error) === "resource_missing" && stripeOutcome(error) === "definite") {
      return null;
    }
    throw error;
  }
}

/**
 * The payment method to confirm with, read (nothing changes at Stripe):
 * `saved` when it is saved on `customer` already; one saved nowhere is to be
 * attached to it, but only once the attempt is recorded (services/retries/
 * attach.ts), so a retry refused by a rule or a cap leaves nothing saved at
 * Stripe (README "Retrying failed payments": every rule is checked before
 * anything is sent). One saved on another customer is refused here.
 */
async function inspect(
  p: PmParts,
  ctx: CallContext,
  requested: string,
  customer: string,
  transactionId: string,
  savedEarlier: string | null = null,
): Promise<{ pm: Stripe.PaymentMethod; saved: boolean; enteredAt: number | null }> {
  const { deps, svc } = p;
  if (TEST_ID.test(requested) && deps.config.stripe.livemode) {
    throw validationFailed([{
      path: "body.payment_method",
      message: "Stripe's test ids (pm_card_…) exist only in test mode; use a saved pm_…",
    }]);
  }
  // a test id retrieves as a fresh payment method, saved nowhere, as at Stripe; resent under
  // its Idempotency-Key, the one an earlier attempt saved for it stands in (saved once)
  const earlier = TEST_ID.test(requested) && savedEarlier
    ? await stillSaved(p, savedEarlier, customer)
    : null;
  const pm = earlier ?? await retrieve(p, requested, customer);
  // a test id stands for a fixed test card: its details never change, whatever `created` says
  const enteredAt = TEST_ID.test(requested) ? null : pm.created * 1000;
  const owner = idOf(pm.customer);
  if (owner === customer) return { pm, saved: true, enteredAt };
  if (owner) {
    // a refusal of a retry is audited on the payment, as the others are (README "Exactly once")
    await svc.audit.record(ctx, {
      action: "retry.create",
      target: { type: "transaction", id: transactionId },
      result: "denied",
      reason: `payment method saved on another customer (${owner}), not ${customer}`,
      after: { reason: "payment_method_not_allowed", payment_method: pm.id },
    });
    const where = `GET /api/admin/payments/customers/${customer}/payment-methods`;
    throw new AppError(
      "payment_method_not_allowed",
      `payment method ${pm.id} is saved on another customer; a payment of ${customer} can ` +
        `only be retried with one of its own (${where})`,
      {
        extra: { payment_method: pm.id },
        errors: [{
          path: "body.payment_method",
          message: `${pm.id} is saved on another customer: send one of ${customer}'s own ` +
            `(${where}), or a new card`,
        }],
      },
    );
  }
  return { pm, saved: false, enteredAt };
}

/**
 * GET /customers/{id}/payment-methods: one page of what Stripe has saved, with our last use of
 * each. Paged by Stripe itself (`starting_after` the page's last card, `has_more`), one call per
 * page through the gateway; the cursor is sealed for this customer (README "API": lists).
 */
async function listForCustomer(
  p: PmParts,
  customer: string,
  page: { limit: number; cursor?: string },
): Promise<Page<SavedPaymentMethodView>> {
  const { kv, deps, svc } = p;
  const scope = `payment_methods:${customer}`;
  const after = page.cursor ? await svc.cursors.unseal(scope, page.cursor) : undefined;
  let list: Stripe.ApiList<Stripe.PaymentMethod>;
  try {
    list = await deps.stripe.call(
      (s) =>
        s.customers.listPaymentMethods(customer, {
          limit: page.limit,
          ...(after ? { starting_after: after } : {}),
        }),
      { label: "customers.listPaymentMethods" },
    );
  } catch (error) {
    // only Stripe saying there is no such customer is a 404; a rate limit is a 503 as it came
    if (stripeCode(error) === "resource_missing" && stripeOutcome(error) === "definite") {
      if (after && stripeParam(error) === "starting_after") throw staleCursor(after);
      throw notFound("customer", customer);
    }
    throw error;
  }
  const lastUsed = await getPaymentMethodsLastUsed(kv, list.data.map((pm) => pm.id));
  const last = list.data.at(-1);
  return {
    data: list.data.map((pm) => ({
      id: pm.id,
      ...cardSummary(pm),
      created: new Date(pm.created * 1000).toISOString(),
      last_used: lastUsed.get(pm.id) ?? null,
    })),
    next_cursor: list.has_more && last ? await svc.cursors.seal(scope, last.id) : null,
  };
}

function stripeParam(error: unknown): string | null | undefined {
  return error instanceof AppError
    ? (error.extra?.stripe as { param?: string | null } | undefined)?.param
    : undefined;
}

/** The card a page ended with is no longer saved on the customer: its cursor leads nowhere. */
function staleCursor(after: string): AppError {
  return validationFailed([{
    path: "query.cursor",
    message: `the page this cursor continues ended with ${after}, no longer saved on the ` +
      "customer; omit it to start from the first page",
  }]);
}

/** What the factory's steps work with. */
interface PmParts {
  kv: Deno.Kv;
  deps: Deps;
  svc: PmServices;
}

interface PmServices {
  audit: AuditService;
  cursors: CursorSealer;
}

export function createPaymentMethods(deps: Deps, svc: PmServices) {
  const p: PmParts = { kv: deps.kv, deps, svc };

  return {
    inspect: bindParts(p, inspect),
    listForCustomer: bindParts(p, listForCustomer),
  };
}

export type PaymentMethods = ReturnType<typeof createPaymentMethods>;
