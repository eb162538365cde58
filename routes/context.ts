/** From Hono's context to the plain `CallContext` services take. */
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import type { CallContext, RequestMeta } from "../domain/actor.ts";
import { AppError } from "../core/errors.ts";
import { addressMatches } from "../core/net.ts";

/** The peer's address as Deno.serve (or the platform) gave it; null under app.request(). */
function peerAddress(c: Context<AppEnv>): string | null {
  try {
    // deno-lint-ignore no-explicit-any
    const info = (c.env as any)?.remoteAddr ?? (c.env as any)?.info?.remoteAddr;
    return typeof info?.hostname === "string" ? info.hostname : null;
  } catch {
    return null;
  }
}

/**
 * The caller's address: the peer's, unless the peer is one of TRUSTED_PROXIES;
 * then the right-most X-Forwarded-For address that is not a trusted proxy
 * (what a client writes further left is its own claim).
 */
export function clientAddress(c: Context<AppEnv>): string | null {
  const peer = peerAddress(c);
  const trusted = c.get("services")?.deps.config.trustedProxies ?? [];
  if (!peer || !trusted.some((p) => addressMatches(peer, p))) return peer;
  const hops = (c.req.header("x-forwarded-for") ?? "").split(",").map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted.some((p) => addressMatches(hops[i], p))) return hops[i].slice(0, 64);
  }
  return peer;
}

export function requestMeta(c: Context<AppEnv>): RequestMeta {
  return {
    request_id: c.get("requestId"),
    ip: clientAddress(c),
    // cut well past the 256 characters an audit entry keeps: the entry masks tokens and card
    // numbers first, then cuts (README "Security"), so a token across its cut is masked whole
    user_agent: c.req.header("user-agent")?.slice(0, 1024) ?? null,
  };
}

/** The acting admin's context; only valid behind `adminRoute`'s guard. */
export function callContext(c: Context<AppEnv>): CallContext {
  const principal = c.get("principal");
  if (!principal) throw new AppError("unauthenticated", "send Authorization: Bearer <token>");
  const key = c.req.header("idempotency-key");
  return {
    actor: { type: "admin", id: principal.admin_id, role: principal.role },
    request: requestMeta(c),
    second_factor: principal.second_factor,
    ...(key !== undefined
      ? { idempotency_key: key, idempotency_request: `${c.req.method} ${c.req.path}` }
      : {}),
  };
}

/** A list's `assignee` filter: `me` is the caller's own admin id (README "API": lists). */
export function assigneeFilter(c: Context<AppEnv>, assignee: string | undefined) {
  return assignee === "me" ? callContext(c).actor.id : assignee;
}
