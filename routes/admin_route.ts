/**
 * `adminRoute({ permission, secondFactor }, route)`: createRoute for everything under /api/admin. It adds,
 * from one declaration, what every admin route needs:
 *   - the guard middleware (address -> bearer token -> throttle -> permission -> second factor),
 *   - `security` and `x-permission` / `x-roles` / `x-second-factor` in the OpenAPI
 *     document, so /docs shows who may call it and whether 2FA is needed,
 *   - the 401/403/429 problem responses,
 *   - the headers the service adds: `ETag` and `304` on a GET's JSON answer (README "Caching and
 *     ETags"), `Idempotent-Replayed` where the route takes an `Idempotency-Key`,
 *   - `If-Match` refused (`422`) on a route that changes something and does not declare it
 *     (README "Inputs and headers"), and said so in the OpenAPI document.
 */
import { createRoute, type RouteConfig, type z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { requestMeta } from "./context.ts";
import { errorResponses } from "../openapi/schemas.ts";
import { headerRef, IF_NONE_MATCH_PARAMETER, NOT_MODIFIED_RESPONSE } from "../openapi/headers.ts";
import { type Permission, PERMISSIONS } from "../domain/permissions.ts";
import type { ErrorCode, FieldError } from "../core/errors.ts";
import type { AttemptedRequest } from "../domain/actor.ts";
import {
  DEFAULT_BODY_LIMIT,
  gateBody,
  type RequestSchemas,
  type TooLargeHint,
} from "./body_gate.ts";
import { knownNames, refuseUnknownNames } from "./unknown_fields.ts";
import { IF_MATCH_NOT_TAKEN, ifMatchRefusal, refusesIfMatch } from "./if_match.ts";

export interface AdminRouteOptions {
  permission: Permission;
  /** needs `X-OTP-Code` or `X-Step-Up` */
  secondFactor?: boolean;
  /**
   * bytes of request body this route accepts (default 64 KiB, `DEFAULT_BODY_LIMIT`);
   * e.g. 1 MiB for dispute evidence, 5 MB and a little for a multipart file upload
   */
  bodyLimit?: number;
  /** the route's size rule in words, and its one dominant field, for a body over `bodyLimit` */
  bodyTooLarge?: TooLargeHint;
  /**
   * a rule the schemas cannot say (a body field one kind of path id needs, an evidence draft's
   * fields), checked with them, before a second factor is spent: the fields it refuses are in
   * the same 422 as the schemas' and the unknown names
   */
  check?: (c: Context<AppEnv>) => Promise<FieldError[]>;
  /**
   * the route rotates the caller's own token: a token rotated there moments before the request
   * arrived (a concurrent rotation that lost) is 409 with `rotated_at`, not 401
   */
  ownTokenRotation?: boolean;
}

/**
 * Checks who is calling and whether they may; sets `principal`. Then the body
 * (declared type, size limit) and the route's own validation, before a second
 * factor is spent on the request.
 */
export function guard(
  options: AdminRouteOptions,
  request?: RouteConfig["request"],
  refuse?: (c: Context<AppEnv>) => FieldError[],
): MiddlewareHandler<AppEnv> {
  const { permission, secondFactor = false, bodyLimit = DEFAULT_BODY_LIMIT, check } = options;
  const types = Object.keys(request?.body?.content ?? {});
  const json = request?.body?.content?.["application/json"] as { schema?: z.ZodType } | undefined;
  const jsonSchema = json?.schema;
  const checkFirst = validatesEarly(secondFactor, request);
  const known = knownNames(request);
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const identity = c.get("services").identity;
    const meta = requestMeta(c);
    const auth = options.ownTokenRotation
      ? { ownRotation: { arrivedAt: c.get("services").deps.clock.now() } }
      : undefined;
    let principal = await identity.authenticateRequest(c.req.header("authorization"), meta, auth);
    c.set("principal", principal);
    await identity.throttle(principal, "api");
    await identity.authorize(principal, permission, meta);
    await gateBody(c, {
      types,
      limit: bodyLimit,
      required: request?.body?.required === true,
      schema: jsonSchema,
      tooLarge: options.bodyTooLarge,
    });
    // one 422 for all of it: unknown names, the schemas, the route's own check
    await refuseUnknownNames(c, known, request as RequestSchemas, {
      validate: checkFirst,
      check,
      refuse,
    });
    if (bodySent(c)) {
      // The token was judged when the headers came; a body can be held back for as long as the
      // client likes. Disabling, demoting or a rotated token act at once (README, "Accounts and
      // enrollment"), on a request held open meanwhile too: judged again now the body is in.
      principal = await identity.authenticate(c.req.header("authorization"), meta, auth);
      c.set("principal", principal);
      await identity.authorize(principal, permission, meta);
    }
    if (secondFactor) {
      await identity.verifySecondFactor(principal, {
        otp: c.req.header("x-otp-code"),
        stepUp: c.req.header("x-step-up"),
        attempted: attemptedRequest(c),
      }, meta);
      c.set("principal", { ...principal, second_factor: true });
    }
    await next();
  };
  GUARDS.add(middleware);
  return middleware;
}

const GUARDS = new WeakSet<object>();

/**
 * What the request sets out to do, for the entry of a refused second factor:
 * the method, the route's path as the OpenAPI document writes it (`{id}`, not
 * Hono's `:id`) and its path parameters, already checked against the route's
 * schemas (validatesEarly) so they hold ids, not whatever a client typed.
 */
function attemptedRequest(c: Context<AppEnv>): AttemptedRequest {
  const path = c.req.routePath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");
  const params = c.req.param() as Record<string, string>;
  return {
    method: c.req.method,
    path,
    ...(Object.keys(params).length ? { params: { ...params } } : {}),
  };
}

/** Whether a route's handler is the admin guard: its path is on the private admin surface. */
export function isAdminGuard(handler: unknown): boolean {
  return typeof handler === "function" && GUARDS.has(handler);
}

/** Whether the request came with a body the client could have held back (read by `gateBody`). */
function bodySent(c: Context<AppEnv>): boolean {
  const method = c.req.method;
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS" && c.req.raw.body !== null;
}

/**
 * Whether the guard checks the request against the route's schemas itself.
 * It must before a second factor is spent, and when a body or both a path and
 * a query could fail (its one 422 names all of them). Otherwise the route's
 * own validator, next after the guard, gives the same 422 with the same
 * messages, and parsing the query twice was a cost of every listing.
 */
function validatesEarly(secondFactor: boolean, request?: RouteConfig["request"]): boolean {
  if (!request) return false;
  return secondFactor || request.body !== undefined ||
    (request.params !== undefined && request.query !== undefined);
}

export function adminRoute<R extends RouteConfig>(options: AdminRouteOptions, route: R) {
  const { permission, secondFactor = false } = options;
  const roles = PERMISSIONS[permission];
  const codes: ErrorCode[] = ["unauthenticated", "forbidden", "rate_limited"];
  if (route.request?.body || route.method !== "get") {
    codes.push("payload_too_large", "unsupported_media_type");
  }
  if (secondFactor) {
    codes.push("otp_required", "otp_invalid", "otp_replayed", "otp_locked", "step_up_expired");
  }
  const note = `**Roles:** ${roles.join(", ")} (\`${permission}\`)` +
    (secondFactor ? ". **Second factor:** `X-OTP-Code` or `X-Step-Up` required." : ".");
  const revalidated = route.method === "get" && hasJson200(route.responses);
  const responses = withAddedHeaders(route);
  const added = [
    ...(revalidated ? [IF_NONE_MATCH_PARAMETER] : []),
    ...(refusesIfMatch(route) ? [IF_MATCH_NOT_TAKEN] : []),
  ];
  return createRoute({
    ...route,
    ...(added.length ? { parameters: [...route.parameters ?? [], ...added] } : {}),
    description: route.description ? `${route.description}\n\n${note}` : note,
    security: secondFactor
      ? [{ bearerAuth: [], otpCode: [] }, { bearerAuth: [], stepUp: [] }]
      : [{ bearerAuth: [] }],
    middleware: guard(options, route.request, ifMatchRefusal(route)),
    responses: withGuardErrors(errorResponses(...codes), responses),
    "x-permission": permission,
    "x-roles": [...roles],
    "x-second-factor": secondFactor,
  }) as R & { middleware: MiddlewareHandler<AppEnv> };
}

type Responses = RouteConfig["responses"];
type Declared = { content?: Record<string, unknown>; headers?: Record<string, unknown> };

function hasJson200(responses: Responses): boolean {
  return !!(responses[200] as Declared | undefined)?.content?.["application/json"];
}

/**
 * The route's responses with the headers the service adds to them: a GET's
 * JSON 200 carries an `ETag` (and gets its 304), a route taking an
 * `Idempotency-Key` may answer a 2xx as a replay.
 */
function withAddedHeaders(route: RouteConfig): Responses {
  const out: Record<string, unknown> = { ...route.responses };
  const shape = (route.request?.headers as { shape?: Record<string, unknown> } | undefined)?.shape;
  const idempotent = shape?.["idempotency-key"] !== undefined;
  for (const [status, response] of Object.entries(route.responses)) {
    const r = response as Declared;
    const added = {
      ...(route.method === "get" && status === "200" && r.content?.["application/json"]
        ? { etag: headerRef("ETag") }
        : {}),
      ...(idempotent && /^2/.test(status)
        ? { "idempotent-replayed": headerRef("IdempotentReplayed") }
        : {}),
    };
    if (Object.keys(added).length) out[status] = { ...r, headers: { ...r.headers, ...added } };
  }
  if (route.method === "get" && hasJson200(route.responses)) out[304] = NOT_MODIFIED_RESPONSE;
  return out as Responses;
}

/**
 * The route's responses with the guard's errors: where both name a status (a
 * route's own 403 beside the guard's), the problem codes of both are listed.
 */
function withGuardErrors(
  guard: Record<string, { description: string }>,
  own: RouteConfig["responses"],
): RouteConfig["responses"] {
  const merged: Record<string, unknown> = { ...guard, ...own };
  for (const [status, response] of Object.entries(own)) {
    const g = guard[status];
    const r = response as { description?: string; content?: Record<string, unknown> };
    if (!g || !r.content?.["application/problem+json"]) continue;
    const codes = new Set([...g.description.split(", "), ...(r.description ?? "").split(", ")]);
    merged[status] = { ...r, description: [...codes].filter(Boolean).join(", ") };
  }
  return merged as RouteConfig["responses"];
}
