/**
 * The error side of every route: the problem document (RFC 9457) and the
 * error responses each operation declares, by HTTP status, with a realistic
 * example, `Retry-After` where waiting helps and the challenge of a 401.
 */
import { z } from "@hono/zod-openapi";
import { ERROR_CODES, type ErrorCode } from "../core/errors.ts";
import { headerRef } from "./headers.ts";

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

/**
 * Error responses for a route, by HTTP status, with the problem schema: `codes`, the
 * `validation_failed` every route with an input may answer, and the `unavailable` of a
 * stopping server.
 */
export function errorResponses(...codes: ErrorCode[]) {
  return problemResponses("validation_failed", ...codes, "unavailable");
}

/** Error responses for exactly these codes (a route that takes no input, or is served while stopping). */
export function problemResponses(...codes: ErrorCode[]) {
  const byStatus: Record<number, ErrorCode[]> = {};
  for (const code of new Set<ErrorCode>(codes)) {
    (byStatus[ERROR_CODES[code].status] ??= []).push(code);
  }
  return Object.fromEntries(
    Object.entries(byStatus).map(([status, list]) => [status, {
      description: list.map((c) => `\`${c}\``).join(", "),
      // 409: a request under an Idempotency-Key still running, a retry's decline arriving
      ...(status === "409" || status === "429" || status === "503"
        ? { headers: { "retry-after": headerRef("RetryAfter") } }
        : {}),
      ...(status === "401"
        ? { headers: { "www-authenticate": headerRef("WWWAuthenticate") } }
        : {}),
      content: {
        "application/problem+json": {
          ...problemContent["application/problem+json"],
          example: problemExample(list[0]),
        },
      },
    }]),
  );
}

/** What sending an approved refund to Stripe may answer instead (both routes that approve one). */
export const REFUND_SEND_REFUSALS = [
  "amount_exceeds_refundable",
  "charge_not_refundable",
  "stripe_error",
  "stripe_unavailable",
] as const satisfies readonly ErrorCode[];

/** The refusals of a once-only call to Stripe: unknown id, a state that refuses it, a reused key, Stripe's own. */
export function stripeCallErrors() {
  return errorResponses(
    "not_found",
    "conflict",
    "idempotency_key_reused",
    "stripe_error",
    "stripe_unavailable",
  );
}
