/**
 * Free text copied from Stripe objects into the service's records (a
 * customer's name, email, phone and description, a payment's description, a
 * decline message, a code): each KV value is at most 64 KiB, and a record
 * holds several such texts (a customer keeps tied snapshots of its details),
 * while a webhook body may be 512 KiB. Stripe's texts are far shorter, and
 * its reference gives no bound for every one of them, so none is refused: a
 * longer one is kept cut at `STRIPE_TEXT_MAX` characters, with a marker
 * saying so and how long it was, and the whole text stays in the stored
 * event's payload (README, "Stripe webhooks").
 */

/** Characters of one Stripe text the records keep. */
export const STRIPE_TEXT_MAX = 1000;

/** `text` as kept: cut at `max` characters (never inside a surrogate pair), marked; null as null. */
export function boundStripeText(text: string, max?: number): string;
export function boundStripeText(text: string | null | undefined, max?: number): string | null;
export function boundStripeText(
  text: string | null | undefined,
  max = STRIPE_TEXT_MAX,
): string | null {
  if (text === null || text === undefined) return null;
  if (typeof text !== "string") return null;
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // keep a surrogate pair whole
  return `${text.slice(0, end)}… [cut by payops: ${text.length} characters in all; ` +
    "the event's payload holds the whole text]";
}
