/**
 * Query parameters that are not text: whole numbers (`limit`, `expect_seq`) and date-times
 * (`from`, `to`, `due_before`), read from the query string exactly as the OpenAPI document
 * declares them (`type: integer`, `format: date-time`), each refusal one message on its field
 * (README "API").
 */
import { z } from "@hono/zod-openapi";

const DIGITS = /^[0-9]+$/;

export interface WholeNumberOptions {
  min: number;
  /** at most `Number.MAX_SAFE_INTEGER` (the default, and the most a number holds exactly) */
  max?: number;
  example: number;
  description?: string;
}

/**
 * A whole number in plain decimal digits (`25`; a sign, spaces, a decimal point, an exponent or
 * `0x` are not digits: `Number()` would take them) between `min` and `max`; a number out of
 * range, however large, is one message on the field.
 */
export function wholeNumberQuery(name: string, o: WholeNumberOptions) {
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  const range = `${name} must be between ${o.min} and ${max}`;
  const digits = `${name} must be a whole number between ${o.min} and ${max} in plain decimal ` +
    `digits, such as ${o.example} (no sign, spaces, decimal point, exponent or 0x)`;
  return z.string().transform((value, ctx) => {
    if (!DIGITS.test(value)) {
      ctx.addIssue({ code: "custom", message: digits });
      return z.NEVER;
    }
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < o.min || n > max) {
      ctx.addIssue({ code: "custom", message: range });
      return z.NEVER;
    }
    return n;
  }).openapi({
    param: { name, in: "query" },
    type: "integer",
    minimum: o.min,
    maximum: max,
    ...(o.description === undefined ? {} : { description: o.description }),
  });
}

// the default is said again for the document: a transformed schema's own is not shown
export const LimitQuery = wholeNumberQuery("limit", { min: 1, max: 100, example: 25 }).default(25)
  .openapi({ param: { name: "limit", in: "query" }, example: 25, default: 25 });

const ISO_DATE_TIME = z.iso.datetime({ offset: true });

/**
 * A date-time whose offset's `+` came unencoded: the query string reads `+` as a space
 * (`…T10:00:00 01:00`).
 */
const PLUS_AS_SPACE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)? \d{2}(:?\d{2})?$/i;

/**
 * An optional RFC 3339 date-time query parameter (`from`, `to`): `T` and `Z` in either case, as
 * RFC 3339 and `format: date-time` allow (handed on in capitals), the offset `Z` or `±hh:mm`.
 * No example: Swagger UI's "Try it out" would fill it in and narrow the list (README "API").
 */
export function dateTimeQuery(name: string, description: string) {
  const wanted = `${name} must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z`;
  const plus = `${wanted}; a + in a query string is read as a space, so send an offset's + as ` +
    "%2B (2026-01-31T00:00:00%2B01:00)";
  return z.string().transform((value, ctx) => {
    const upper = value.toUpperCase();
    if (ISO_DATE_TIME.safeParse(upper).success) return upper;
    ctx.addIssue({ code: "custom", message: PLUS_AS_SPACE.test(value) ? plus : wanted });
    return z.NEVER;
  }).optional().openapi({
    param: { name, in: "query" },
    type: "string",
    format: "date-time",
    description: `${description}, e.g. \`2026-01-31T00:00:00Z\``,
  });
}
