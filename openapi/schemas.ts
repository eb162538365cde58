/**
 * Shared OpenAPI schemas: the problem document, pages, money, and the error
 * responses every route declares.
 */
import { z } from "@hono/zod-openapi";
import { ERROR_CODES, type ErrorCode } from "../core/errors.ts";

export const ProblemSchema = z.object({
  type: z.string().openapi({ example: "/problems/validation_failed" }),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
  request_id: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
}).catchall(z.unknown()).openapi("Problem", {
  description: "RFC 9457 problem document; `code` is stable, `errors` names each invalid field",
});

/** Integer amount in the currency's minor unit (cents for usd), as Stripe does. */
export const AmountSchema = z.number().int().openapi({
  description: "amount in the currency's minor unit (e.g. cents)",
  example: 2500,
});

export const CurrencySchema = z.string().regex(
  /^[a-z]{3}$/,
  "a lowercase ISO 4217 code such as usd",
)
  .openapi({ example: "usd" });

export const LimitQuery = z.coerce.number().int().min(1, "limit must be between 1 and 100").max(
  100,
  "limit must be between 1 and 100",
).default(25).openapi({ param: { name: "limit", in: "query" }, example: 25 });

export const CursorQuery = z.string().min(1).max(2000).optional().openapi({
  param: { name: "cursor", in: "query" },
  description: "opaque `next_cursor` of the previous page",
});

/**
 * An optional ISO 8601 date-time query parameter (`from`, `to`) with a message saying the format.
 * Its example is what Swagger UI's "Try it out" sends: give `from` and `to` ones that make a
 * valid range (from before to), or none.
 */
export function dateTimeQuery(name: string, description: string, example?: string) {
  return z.iso.datetime({
    offset: true,
    error: `${name} must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z`,
  }).optional().openapi({
    param: { name, in: "query" },
    description: `${description}, e.g. \`2026-01-31T00:00:00Z\``,
    ...(example === undefined ? {} : { example }),
  });
}

export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    data: z.array(item),
    next_cursor: z.string().nullable(),
  }).openapi(name);
}

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

/** A realistic problem document for one code (instead of a generator's `additionalProp1`). */
function problemExample(code: ErrorCode) {
  return {
    type: `/problems/${code}`,
    title: ERROR_CODES[code].title,
    status: ERROR_CODES[code].status,
    detail: code === "validation_failed"
      ? "body.note: note is required"
      : ERROR_CODES[code].title.toLowerCase(),
    code,
    request_id: "req_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
    ...(code === "validation_failed"
      ? { errors: [{ path: "body.note", message: "note is required" }] }
      : {}),
  };
}

/** Error responses for a route, by HTTP status, with the problem schema. */
export function errorResponses(...codes: ErrorCode[]) {
  const byStatus: Record<number, ErrorCode[]> = {};
  for (const code of new Set<ErrorCode>(["validation_failed", ...codes])) {
    (byStatus[ERROR_CODES[code].status] ??= []).push(code);
  }
  return Object.fromEntries(
    Object.entries(byStatus).map(([status, list]) => [status, {
      description: list.map((c) => `\`${c}\``).join(", "),
      content: {
        "application/problem+json": {
          ...problemContent["application/problem+json"],
          example: problemExample(list[0]),
        },
      },
    }]),
  );
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}
