/**
 * Shared OpenAPI schemas: pages, money, notes, ids, query filters, and (from
 * error_responses.ts) the problem document and the error responses every
 * route declares. The records several routes show: record_schemas.ts.
 */
import { maskString } from "../core/log.ts";
import { plainTextProblem } from "../domain/text.ts";
import { z } from "@hono/zod-openapi";
import { ADMIN, idField, ME } from "./ids.ts";

export { dateTimeQuery, LimitQuery, wholeNumberQuery } from "./query.ts";
export {
  errorResponses,
  problemResponses,
  ProblemSchema,
  REFUND_SEND_REFUSALS,
  stripeCallErrors,
} from "./error_responses.ts";

/** Integer amount in the currency's minor unit (cents for usd), as Stripe does. */
export const AmountSchema = z.number().int().openapi({
  description: "amount in the currency's minor unit (e.g. cents)",
  example: 2500,
});

export const CurrencySchema = z.string().regex(
  /^[a-z]{3}$/,
  "currency must be a lowercase ISO 4217 code such as usd",
)
  .openapi({ example: "usd" });

export const CursorQuery = z.string().min(1).max(2000).optional().openapi({
  param: { name: "cursor", in: "query" },
  description: "opaque `next_cursor` of the previous page",
});

/**
 * A page of `item`; `description` says what a client must know of the listing's pages (the
 * audit log's may be empty while more exist).
 */
export function pageSchema<T extends z.ZodType>(
  item: T,
  name: string,
  description?: { page: string; nextCursor: string },
) {
  return z.object({
    data: z.array(item),
    next_cursor: description
      ? z.string().nullable().openapi({ description: description.nextCursor })
      : z.string().nullable(),
  }).openapi(name, description ? { description: description.page } : {});
}

/**
 * `schema` refusing what is not plain text (`plainTextProblem`: control
 * characters, broken Unicode) as a 422 naming `what` and the fix.
 */
function plainText(schema: z.ZodString, what: string): z.ZodString {
  return schema.refine((v) => plainTextProblem(v) === null, {
    error: (issue) => `${what} ${plainTextProblem(String(issue.input))}`,
  });
}

/**
 * Free text a person types that the service keeps (a note, a reason): plain text as
 * `plainText` says, with a card number, Stripe key, webhook secret, bearer token, this
 * service's token or enrollment code, or email typed into it masked before it is stored
 * anywhere, the record as the audit entry (README, "Security"). Every such request field
 * goes through it; dispute evidence, sent to Stripe as written, does not (README, "Security").
 */
export function typedText(schema: z.ZodString, what: string): z.ZodString {
  // checked as typed (a 422 names the place in the text sent), then masked
  return plainText(schema, what).overwrite(maskString);
}

/**
 * Why someone did something, kept with the record and in the audit log:
 * required, 1 to 500 characters, masked (`typedText`).
 */
export const NoteSchema = typedText(
  z.string().trim().min(1, "note is required (1 to 500 characters)").max(
    500,
    "note is at most 500 characters",
  ),
  "note",
);

/**
 * The hash an approver sends back, of what they reviewed (64 hex, either case): `source` says
 * where it is shown; anything else is 422 saying so, a hash of something else 409.
 */
export function approvalHashField(source: string, description: string) {
  return hashOf(source).optional().openapi({ description });
}

/** The same, required: `missing` is what a request without it is told (where to get it). */
export function requiredApprovalHashField(source: string, description: string, missing: string) {
  return hashOf(source, missing).openapi({ description, example: APPROVAL_HASH_EXAMPLE });
}

/** An example hash: well-formed, and of nothing (README "API": examples are harmless). */
const APPROVAL_HASH_EXAMPLE = "9f2c4e1a".repeat(8);

function hashOf(source: string, missing?: string) {
  return z.string({
    error: (iss) => (iss.input === undefined && missing ? missing : undefined),
  }).regex(/^[0-9a-fA-F]{64}$/, `approval_hash must be ${source} (64 hex characters)`)
    .toLowerCase(); // either case is the same hash; the service shows and compares lowercase
}

/** A JSON request body of `schema`, required unless said otherwise. */
export function jsonBody<T extends z.ZodType>(schema: T, required = true) {
  return { required, content: { "application/json": { schema } } };
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export const DateTimeSchema = z.string().openapi({ format: "date-time" });

/** A string that may be null, with an example. */
export const nullableString = (example?: string) => z.string().nullable().openapi({ example });

/**
 * A named (registered) schema or null. `.nullable()` on a named schema loses
 * the null in the document (it becomes a bare `$ref`); a union keeps it as
 * `anyOf: [$ref, {type: "null"}]`.
 */
export function orNull<T extends z.ZodType>(schema: T) {
  return z.union([schema, z.null()]);
}

/** One of `values`; anything else is refused naming the field and every allowed value. */
export function oneOf<const T extends readonly [string, ...string[]]>(field: string, values: T) {
  return z.enum(values, { error: `${field} must be one of ${values.join(", ")}` });
}

/** The OpenAPI metadata of a query parameter called `name`. */
export function queryParam(name: string) {
  return { param: { name, in: "query" as const } };
}

/**
 * A list's `assignee` filter: an `adm_…` id, or `me` for the caller's own (the route resolves
 * it); anything else (an email, a name) would match nothing, so it is refused naming the field.
 * No example: Swagger UI would pre-fill it, and Try it out would list only the caller's own
 * (README "API": a pre-filled example hides nothing).
 */
export const AssigneeQuery = idField("assignee", [ADMIN, ME]).optional().openapi({
  ...queryParam("assignee"),
  description: "an admin's `adm_…` id, or `me` for the caller's own; left out, every one, " +
    "assigned or not",
});
