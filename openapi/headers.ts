/**
 * The response headers the service sends, declared once under
 * `components.headers` and referred to where they are sent (README "API",
 * "Caching and ETags", "Inputs and headers"):
 *
 *   every answer          X-Request-Id (and X-Client-Request-Id when the caller sent an id)
 *   every admin answer    Cache-Control
 *   an admin GET's 200    ETag, and 304 for an `If-None-Match` naming it
 *   409, 429, 503         Retry-After (when waiting helps: on a 409, an Idempotency-Key's
 *                         request still running, a retry's decline still arriving)
 *   401                   WWW-Authenticate
 *   an idempotent route   Idempotent-Replayed on a replayed answer
 *
 * Route-specific ones (`Location`, `Content-Disposition`) are declared by their route.
 */
const string = { type: "string" as const };

export const HEADER_COMPONENTS = {
  XRequestId: {
    description: "this service's id of the request (`req_…`), also in a problem's " +
      "`request_id` and in the logs",
    required: true,
    schema: { ...string, example: "req_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" },
  },
  XClientRequestId: {
    description: "the caller's own `X-Request-Id`, echoed when it is 8 to 128 characters of " +
      "letters, digits and `.`, `_`, `:`, `-` (`^[A-Za-z0-9._:-]{8,128}$`); one that does not " +
      "fit is dropped (not echoed or logged, and not an error): `X-Request-Id` is then the only id",
    schema: string,
  },
  CacheControl: {
    description: "`private, no-cache` (a client may keep a copy and revalidate it with its " +
      "`ETag`), or `no-store` on an answer that shows a secret",
    required: true,
    schema: { ...string, example: "private, no-cache" },
  },
  ETag: {
    description: "weak tag of this answer; send it back as `If-None-Match` and an unchanged " +
      "answer is `304` with no body. Absent on an answer that shows a secret " +
      "(`Cache-Control: no-store`). Strong (no `W/`) on `GET /fraud/alerts/{id}`, whose " +
      "answer is the alert as stored: `PATCH /fraud/alerts/{id}` takes it as `If-Match`",
    required: false,
    schema: { ...string, example: 'W/"1k-4f2a9c0d1e3b5a7c"' },
  },
  RetryAfter: {
    description: "seconds to wait before sending the request again, where waiting helps " +
      "(a throttle's window, a lock, Stripe refusing requests for now, the service stopping)",
    schema: { type: "integer" as const, minimum: 1, example: 2 },
  },
  WWWAuthenticate: {
    description: 'the challenge of every `401` (RFC 9110): `Bearer realm="payops"`, with ' +
      '`error="invalid_token"` when a bearer token was sent and refused (RFC 6750)',
    required: true,
    schema: { ...string, example: 'Bearer realm="payops", error="invalid_token"' },
  },
  IdempotentReplayed: {
    description: "`true` when this is the first answer to the same `Idempotency-Key` and body, " +
      "sent again, or (a refund's approve and reject) a decision you had already made, " +
      "answered again: nothing was done this time",
    schema: { ...string, enum: ["true"] },
  },
};

type HeaderName = keyof typeof HEADER_COMPONENTS;

/** `{ $ref }` to a declared header. */
export function headerRef(name: HeaderName) {
  return { $ref: `#/components/headers/${name}` };
}

/** The `If-None-Match` request header of a GET that answers `304`. */
export const IF_NONE_MATCH_PARAMETER = {
  name: "if-none-match",
  in: "header" as const,
  required: false,
  description: "an `ETag` this route answered before: unchanged, the answer is `304` with no " +
    "body (access is checked first: a revoked token gets `401`, never `304`)",
  schema: string,
};

/** The 304 of a GET that honours `If-None-Match`. */
export const NOT_MODIFIED_RESPONSE = {
  description: "Not Modified: the `If-None-Match` tag is this answer's; no body",
  headers: { etag: headerRef("ETag"), "cache-control": headerRef("CacheControl") },
};

type Response = { headers?: Record<string, unknown> } & Record<string, unknown>;
type Operation = { responses?: Record<string, Response> };
// deno-lint-ignore no-explicit-any
type Document = { paths?: any };

const METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options", "trace"]);

/**
 * Declares the headers the middleware puts on every answer: `X-Request-Id`
 * (and `X-Client-Request-Id`) everywhere, `Cache-Control` on every admin answer.
 */
export function declareCommonHeaders<D extends Document>(doc: D): D {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation>>;
  for (const [path, item] of Object.entries(paths)) {
    const admin = path.startsWith("/api/admin");
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        // a copy: a response object may be shared between routes (NOT_MODIFIED_RESPONSE)
        op.responses![status] = {
          ...response,
          headers: {
            ...response.headers,
            "x-request-id": headerRef("XRequestId"),
            "x-client-request-id": headerRef("XClientRequestId"),
            ...(admin ? { "cache-control": headerRef("CacheControl") } : {}),
          },
        };
      }
    }
  }
  return doc;
}
