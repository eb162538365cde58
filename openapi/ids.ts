/**
 * Id fields: each path, query and body field that names a record takes only the id kinds it can
 * hold, and anything else is a 422 naming the field and every form it takes (README "API": bad
 * input is 422 naming the field, never an empty page or a 404 for an id of another kind). The
 * pattern is in the OpenAPI document, one alternative per form, each starting with its prefix.
 */
import { z } from "@hono/zod-openapi";

/** One form an id field takes: a pattern (unanchored) and how a message says it. */
export interface IdForm {
  pattern: string;
  words: string;
}

/** An id of ours: `prefix`, `_`, 26 digits and capital letters (as the id factory makes it). */
export function ours(prefix: string, what: string, shownBy: string): IdForm {
  return {
    pattern: `${prefix}_[0-9A-Z]{26}`,
    words: `${what}, ${prefix}_… (${prefix}_ and 26 digits and capital letters, as ${shownBy} ` +
      "shows it)",
  };
}

/** An id Stripe makes, by its prefixes (`pi`, `ch`): what follows is Stripe's. */
export function stripe(prefixes: string[], what: string): IdForm {
  const alternatives = prefixes.map((p) => `${p}_[A-Za-z0-9_]{1,64}`);
  return {
    pattern: alternatives.length === 1 ? alternatives[0] : alternatives.join("|"),
    words: `${what} (${prefixes.map((p) => `${p}_…`).join(", ")})`,
  };
}

/** One literal value the field also takes (`me`). */
export function literal(value: string, words: string): IdForm {
  return { pattern: value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), words: `${value} ${words}` };
}

export const TRANSACTION = ours(
  "txn",
  "a transaction id",
  "GET /api/admin/payments/transactions",
);
export const PAYMENT = stripe(
  ["pi", "ch", "py"],
  "the payment's Stripe PaymentIntent or Charge id",
);
export const CUSTOMER = stripe(["cus"], "a Stripe customer id");
export const CARD_SUBJECT: IdForm = {
  pattern: "card:[A-Za-z0-9_]{1,64}",
  words: "a card alert's subject card:<fingerprint> (as GET /api/admin/payments/fraud/alerts " +
    "shows it in subject)",
};
// a support or analyst cannot list accounts: the message says who can
export const ADMIN: IdForm = {
  pattern: ours("adm", "", "").pattern,
  words: "an admin's id, adm_… (adm_ and 26 digits and capital letters; an admin lists every " +
    "account's on GET /api/admin/users)",
};
export const ME = literal("me", "for yourself (your own is on GET /api/admin/me)");
export const REFUND = ours("rfd", "a refund id", "GET /api/admin/payments/refunds");
export const STRIPE_REFUND = stripe(["re"], "Stripe's refund id");
export const APPROVAL = ours("apr", "a two-person request id", "GET /api/admin/approvals");
export const DISPUTE = ours("dsp", "a dispute id", "GET /api/admin/payments/disputes");
export const STRIPE_DISPUTE = stripe(["du", "dp"], "Stripe's dispute id");

/** The message for a value of `field` that is none of `forms`. */
export function idMessage(field: string, forms: IdForm[]): string {
  const words = forms.map((f) => f.words);
  const listed = words.length === 1
    ? words[0]
    : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
  return `${field} must be ${listed}`;
}

/** The anchored pattern of `forms`. */
export function idRegExp(forms: IdForm[]): RegExp {
  return new RegExp(`^(${forms.map((f) => f.pattern).join("|")})$`);
}

/**
 * A string field called `field` (`id`, `transaction_id`) taking only `forms`; spaces around a
 * pasted id are not part of it. Refused otherwise, naming `field` and every form.
 */
export function idField(field: string, forms: IdForm[]): z.ZodString {
  return z.string({
    error: (iss) => iss.input === undefined ? `${field} is required` : idMessage(field, forms),
  }).trim().regex(
    idRegExp(forms),
    idMessage(field, forms),
  );
}

/** The `{id}` path parameter taking `forms`, with an example shown in the OpenAPI document. */
export function idPath(forms: IdForm[], example: string, description?: string) {
  return z.object({
    id: idField("id", forms).openapi({
      param: { name: "id", in: "path" },
      example,
      ...(description === undefined ? {} : { description }),
    }),
  });
}

/** An optional query filter `name` taking `forms` (one naming nothing lists nothing). */
export function idQuery(name: string, forms: IdForm[], description: string) {
  return idField(name, forms).optional().openapi({ param: { name, in: "query" }, description });
}

/** A payment as operators find it: our `txn_…`, or its `pi_…` / `ch_…` (README "A first session"). */
export const TRANSACTION_REF = [TRANSACTION, PAYMENT];
/** A customer's alerts or snoozes: a `cus_…` id, or a card alert's `card:<fingerprint>`. */
export const FRAUD_SUBJECT = [CUSTOMER, CARD_SUBJECT];
