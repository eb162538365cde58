import type { Ctx, Upload } from "./context.ts";
import { control } from "./control.ts";
import type { ServerDeps } from "./deps.ts";
import { ApiError, invalidRequest } from "./errors.ts";
import { API_VERSION } from "./events.ts";
import { type FaultKind, type Hold, waitOut } from "./faults.ts";
import { type Params, parseForm, stringList } from "./form.ts";
import { Idempotency, requestFingerprint } from "./idempotency.ts";
import { newId } from "./ids.ts";
import { findRoute } from "./router.ts";
import { permissionError } from "./restricted_keys.ts";
import { expand, type StripeObject } from "./store.ts";

type HeaderMap = Record<string, string>;

function json(status: number, body: unknown, headers: HeaderMap): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function errorResponse(err: ApiError, requestId: string, headers: HeaderMap): Response {
  const error = { ...err.error, request_log_url: logUrl(requestId) };
  return json(err.status, { error }, { ...headers, ...err.headers });
}

/** What the server prints for a dropped answer. */
const DROPPED = "stripe emulator: act_then_drop fault: the answer was dropped after the change";

function logUrl(requestId: string): string {
  return `https://dashboard.stripe.com/test/logs/${requestId}`;
}

/**
 * The connection dies mid-answer: the body stream errors after its first byte, so
 * Deno aborts the connection and the client sees a network error, not a response.
 * (Erroring with a string, not an Error, keeps Deno from printing a stack trace: it
 * prints the string, where no reason printed a bare `undefined`; a body merely shorter
 * than its Content-Length leaves Deno 2.5's client waiting forever.)
 */
function droppedResponse(headers: HeaderMap): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("{"));
      controller.error(DROPPED);
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/json", ...headers },
  });
}

function apiKeyOf(req: Request): string {
  const auth = req.headers.get("authorization") ?? "";
  if (auth.startsWith("Bearer ")) return auth.slice(7).trim();
  if (auth.startsWith("Basic ")) return atob(auth.slice(6).trim()).split(":")[0];
  return "";
}

function authError(req: Request): ApiError | null {
  const key = apiKeyOf(req);
  if (!key) {
    return invalidRequest(
      "You did not provide an API key. Provide it in the Authorization header " +
        "(Authorization: Bearer sk_test_...).",
      { status: 401 },
    );
  }
  if (!/^(sk|rk)_test_\w+$/.test(key)) {
    return invalidRequest(`Invalid API Key provided: ${key.slice(0, 8)}****`, { status: 401 });
  }
  return null;
}

function faultError(kind: FaultKind): ApiError {
  if (kind === "rate_limit") {
    return new ApiError(429, {
      type: "invalid_request_error",
      code: "rate_limit",
      message: "Request rate limit exceeded. Learn more about rate limits here " +
        "https://stripe.com/docs/rate-limits.",
    }, { "stripe-rate-limited-reason": "global-rate" });
  }
  if (kind === "lock_timeout") {
    return new ApiError(429, {
      type: "invalid_request_error",
      code: "lock_timeout",
      message: "This object cannot be accessed right now because another API request or " +
        "Stripe process is currently accessing it. Please retry.",
    }, { "stripe-should-retry": "true" });
  }
  return new ApiError(500, {
    type: "api_error",
    message: "Something went wrong on Stripe's end. (emulated fault)",
  });
}

interface Parsed {
  params: Params;
  uploads: Map<string, Upload>;
}

// Stripe takes form-encoded bodies, and multipart/form-data for file uploads.
async function readParams(req: Request, url: URL): Promise<Parsed> {
  const uploads = new Map<string, Upload>();
  if (req.method !== "POST") return { params: parseForm(url.search.slice(1)), uploads };
  const type = req.headers.get("content-type") ?? "";
  if (!type.startsWith("multipart/form-data")) {
    return { params: parseForm(await req.text()), uploads };
  }
  const form = await req.formData().catch(() => {
    throw invalidRequest("Invalid multipart/form-data body.");
  });
  const fields = new URLSearchParams();
  for (const [key, value] of form) {
    if (typeof value === "string") fields.append(key, value);
    else uploads.set(key, { name: value.name, type: value.type, bytes: await value.bytes() });
  }
  return { params: parseForm(fields.toString()), uploads };
}

export function createHandler(deps: ServerDeps): (req: Request) => Promise<Response> {
  const idempotency = new Idempotency(deps.store, deps.now);
  return async (req) => {
    const requestId = newId("req");
    const url = new URL(req.url);
    // Stripe's own time, as its answers carry it (the emulator's clock, not the host's)
    const headers: HeaderMap = {
      "request-id": requestId,
      "stripe-version": API_VERSION,
      date: new Date(deps.now()).toUTCString(),
    };
    try {
      if (url.pathname.startsWith("/_emulator/")) {
        return await control(deps, req, url.pathname, headers);
      }
      if (url.pathname.startsWith("/v1/")) deps.requests.record();
      const denied = authError(req) ??
        permissionError(deps.restrictedKeys, apiKeyOf(req), req.method, url.pathname);
      if (denied) return errorResponse(denied, requestId, headers);
      return await api(deps, idempotency, req, url, requestId, headers);
    } catch (e) {
      if (e instanceof ApiError) return errorResponse(e, requestId, headers);
      return errorResponse(
        new ApiError(500, { type: "api_error", message: `Emulator bug: ${e}` }),
        requestId,
        headers,
      );
    }
  };
}

/**
 * Stripe's idempotency for a POST with a key: a finished request's answer is
 * replayed (returned), a different body or one still running is refused, and
 * otherwise the key is taken for this request (null).
 */
function claimKey(
  idempotency: Idempotency,
  key: string,
  fingerprint: string,
  headers: HeaderMap,
): Response | null {
  headers["idempotency-key"] = key;
  const check = idempotency.check(key, fingerprint);
  if (check.kind === "replay") {
    const rec = check.record;
    return new Response(rec.body, {
      status: rec.status,
      headers: {
        "content-type": "application/json",
        ...headers,
        "idempotent-replayed": "true",
        "original-request": rec.requestId,
      },
    });
  }
  if (check.kind === "mismatch") {
    throw invalidRequest(
      "Keys for idempotent requests can only be used with the same parameters they were " +
        `first used with. Try using a key other than '${key}' if you meant to execute a ` +
        "different request.",
      { type: "idempotency_error" },
    );
  }
  if (check.kind === "in_flight") {
    throw invalidRequest(
      "There is currently another in-progress request using this Idempotent Key (that " +
        "probably means you submitted twice, and the other request is still going " +
        `through): ${key}. Please try again later.`,
      { type: "idempotency_error", status: 409 },
    );
  }
  idempotency.begin(key);
  return null;
}

async function api(
  deps: ServerDeps,
  idempotency: Idempotency,
  req: Request,
  url: URL,
  requestId: string,
  headers: HeaderMap,
): Promise<Response> {
  const method = req.method;
  const { params, uploads } = await readParams(req, url);
  const found = findRoute(method, url.pathname);
  if (!found) {
    throw invalidRequest(`Unrecognized request URL (${method}: ${url.pathname}).`, {
      status: 404,
    });
  }
  const key = method === "POST" ? req.headers.get("idempotency-key") : null;
  const fingerprint = requestFingerprint(method, url.pathname, params);
  if (key) {
    // Stripe's rate limiter answers before its idempotency layer: a request that would be
    // replayed, or that races one still running on its key, may be rate limited as well
    const seen = idempotency.check(key, fingerprint).kind !== "new";
    if (seen && deps.faults.takeFailure(method, url.pathname, "rate_limit")) {
      throw faultError("rate_limit");
    }
    const replay = claimKey(idempotency, key, fingerprint, headers);
    if (replay) return replay;
  }
  let hold: Hold | undefined;
  try {
    const fault = deps.faults.take(method, url.pathname);
    hold = fault.hold;
    if (hold) await waitOut(hold);
    if (fault.failure && fault.failure !== "act_then_drop") throw faultError(fault.failure);
    const ctx: Ctx = {
      store: deps.store,
      bus: deps.bus,
      now: deps.now,
      params,
      uploads,
      request: { id: requestId, idempotency_key: key },
      disputeDelayMs: deps.disputeDelayMs,
      refundFailureDelayMs: deps.refundFailureDelayMs,
    };
    const [status, body] = execute(ctx, found.route.handler, found.args, requestId);
    if (method === "POST") deps.onChange();
    // Stripe saves results once the endpoint ran, including card declines (402).
    if (key && (status < 300 || status === 402)) {
      idempotency.save({ key, fingerprint, status, body, requestId });
    }
    if (fault.failure === "act_then_drop") return droppedResponse(headers);
    return new Response(body, {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  } finally {
    if (key) idempotency.end(key);
    hold?.answered();
  }
}

function execute(
  ctx: Ctx,
  handler: (ctx: Ctx, args: string[]) => StripeObject,
  args: string[],
  requestId: string,
): [number, string] {
  try {
    const result = handler(ctx, args);
    const expanded = expand(ctx.store, result, stringList(ctx.params, "expand"));
    return [200, JSON.stringify(expanded, null, 2)];
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 402) throw e;
    const error = { ...e.error, request_log_url: logUrl(requestId) };
    return [402, JSON.stringify({ error }, null, 2)];
  }
}
