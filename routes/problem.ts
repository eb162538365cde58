/** Renders errors as RFC 9457 problem documents: the one place an error becomes a response. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./env.ts";
import { AppError, ERROR_CODES } from "../core/errors.ts";

/** Relative to the service: `GET /problems/{code}` serves the page (openapi/problems.ts). */
export const PROBLEM_BASE = "/problems/";

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 400 && /JSON/i.test(err.message)) {
      return new AppError("validation_failed", "the request body is not valid JSON", {
        errors: [{
          path: "body",
          message: "send a JSON object with Content-Type: application/json",
        }],
      });
    }
    if (err.status === 400 && /FormData/i.test(err.message)) {
      // hono's form validator: no boundary, or a body that is not multipart
      const why = err.message.replace(/^Malformed FormData request\.?\s*/i, "");
      return new AppError(
        "validation_failed",
        "the request body is not valid multipart/form-data",
        {
          errors: [{
            path: "body",
            message: `send multipart/form-data with its boundary in the Content-Type` +
              (why ? ` (${why})` : ""),
          }],
        },
      );
    }
    if (err.status === 415) {
      return new AppError(
        "unsupported_media_type",
        "this Content-Type is not accepted here; send application/json",
      );
    }
    if (err.status === 413) {
      return new AppError("payload_too_large", err.message || "request body too large");
    }
    if (err.status === 401) {
      return new AppError("unauthenticated", err.message || "authentication required");
    }
  }
  if (err instanceof Deno.errors.BadResource && /request body/i.test(err.message)) {
    // the body stopped arriving: the client hung up, or the server is stopping
    return new AppError(
      "unavailable",
      "the request body could not be read to its end (the connection closed or the service " +
        "is stopping); nothing was done: send the request again",
      { retryAfter: 2 },
    );
  }
  return new AppError(
    "internal",
    "an unexpected error occurred; it has been logged with this request id",
    {
      cause: err,
    },
  );
}

const BEARER_SENT = /^Bearer\s+\S/i;

/**
 * Every 401's challenge (RFC 9110 requires one): `Bearer realm="payops"`, with
 * `error="invalid_token"` when a bearer token was sent and refused (RFC 6750, 3.1). A 401
 * about a second factor or an enrollment code did not refuse the token: no error about it.
 */
function bearerChallenge(c: Context<AppEnv>, error: AppError): string {
  const refused = error.code === "unauthenticated" &&
    BEARER_SENT.test(c.req.header("authorization") ?? "");
  return refused ? 'Bearer realm="payops", error="invalid_token"' : 'Bearer realm="payops"';
}

export function problemResponse(c: Context<AppEnv>, error: AppError): Response {
  const body = {
    type: PROBLEM_BASE + error.code,
    title: ERROR_CODES[error.code].title,
    status: error.status,
    detail: error.message,
    code: error.code,
    request_id: c.get("requestId") ?? "",
    ...(error.errors ? { errors: error.errors } : {}),
  };
  // what a service adds never replaces the document's own members (RFC 9457: `status` is the
  // HTTP status)
  for (const [k, v] of Object.entries(error.extra ?? {})) {
    if (!(k in body)) Object.assign(body, { [k]: v });
  }
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (error.retryAfter !== undefined) {
    headers["retry-after"] = String(Math.max(1, Math.ceil(error.retryAfter)));
  }
  if (error.status === 401) headers["www-authenticate"] = bearerChallenge(c, error);
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
