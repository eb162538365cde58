/**
 * Stripe's objects as an endpoint pinned to an API version before 2022-11-15
 * receives them: a PaymentIntent lists its charges (`charges`, a list object,
 * newest first) and has no `latest_charge`; each charge lists its refunds.
 * Built from the builders of today's shape (tests/helpers/stripe_objects.ts,
 * which follow the SDK's types), with only those fields changed.
 */
import type Stripe from "stripe";

/** An API version from before `latest_charge` replaced `charges` on the PaymentIntent. */
export const LEGACY_API_VERSION = "2022-08-01";

/** A list object as Stripe renders one embedded in another object. */
function list<T>(data: T[], url: string) {
  return { object: "list", data, has_more: false, total_count: data.length, url };
}

/** The charge in the older shape: it lists its refunds (none unless it already does). */
export function legacyCharge(ch: Stripe.Charge): Stripe.Charge {
  const raw = ch as unknown as Record<string, unknown>;
  if (raw.refunds) return ch;
  return { ...raw, refunds: list([], `/v1/charges/${ch.id}/refunds`) } as unknown as Stripe.Charge;
}

/**
 * The PaymentIntent in the older shape: `charges` lists `charges` (the ones
 * Stripe had made by then, newest first, as Stripe lists them), and
 * `latest_charge` is absent.
 */
export function legacyPaymentIntent(
  pi: Stripe.PaymentIntent,
  charges: Stripe.Charge[],
): Stripe.PaymentIntent {
  const { latest_charge: _latest, ...rest } = pi as unknown as Record<string, unknown>;
  const newestFirst = [...charges].sort((a, b) => b.created - a.created).map(legacyCharge);
  return {
    ...rest,
    charges: list(newestFirst, `/v1/charges?payment_intent=${pi.id}`),
  } as unknown as Stripe.PaymentIntent;
}

/** The event as the pinned endpoint receives it: the object in the older shape, its version. */
export function legacyEvent(e: Stripe.Event, charges: Stripe.Charge[] = []): Stripe.Event {
  const raw = e as unknown as { data: { object: Record<string, unknown> } };
  const object = raw.data.object;
  const legacy = object.object === "payment_intent"
    ? legacyPaymentIntent(object as unknown as Stripe.PaymentIntent, charges)
    : object.object === "charge"
    ? legacyCharge(object as unknown as Stripe.Charge)
    : object;
  return {
    ...raw,
    api_version: LEGACY_API_VERSION,
    data: { ...raw.data, object: legacy },
  } as unknown as Stripe.Event;
}
