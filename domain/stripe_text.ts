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

/** Characters (Unicode code points: an emoji is one) of one Stripe text the records keep. */
export const STRIPE_TEXT_MAX = 1000;

/** zero-width joiner, variation selectors: they bind to the character before them */
const JOINS = /^[\u200d\ufe0e\ufe0f]$/u;
/** how far a cut backs off not to split an emoji sequence (past that, it splits it) */
const MAX_BACK_OFF = 16;

/**
 * `text` as kept: cut at `max` code points, marked with how many it had; null
 * as null. The cut never splits a surrogate pair and falls before a joiner or
 * variation selector and what it binds to, when that is within a few characters.
 */
export function boundStripeText(text: string, max?: number): string;
export function boundStripeText(text: string | null | undefined, max?: number): string | null;
export function boundStripeText(
  text: string | null | undefined,
  max = STRIPE_TEXT_MAX,
): string | null {
  if (text === null || text === undefined) return null;
  if (typeof text !== "string") return null;
  if (text.length <= max) return text; // never more code points than UTF-16 units
  const points = Array.from(text);
  if (points.length <= max) return text;
  let end = max;
  const binds = (i: number) => i < points.length && JOINS.test(points[i]);
  for (let back = 0; end > 0 && back < MAX_BACK_OFF; back++) {
    // the last kept is a joiner, or the first dropped binds to the last kept
    if (!binds(end - 1) && !binds(end)) break;
    end--;
  }
  if (binds(end - 1) || binds(end)) end = max; // a run of joiners too long: cut where asked
  return `${points.slice(0, end).join("")}… [cut by payops: ${points.length} characters in all; ` +
    "the event's payload holds the whole text]";
}
