/** From Hono's context to the plain `CallContext` services take. */
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import type { CallContext, RequestMeta } from "../domain/actor.ts";
import { AppError } from "../core/errors.ts";

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
    user_agent: c.req.header("user-agent")?.slice(0, 256) ?? null,
  };
}

function ipv4(a: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** `addr` equals `rule`, or lies in the IPv4 CIDR `rule` (`10.0.0.0/8`). */
export function addressMatches(addr: string, rule: string): boolean {
  const [net, bits] = rule.split("/");
  if (bits === undefined) return addr.toLowerCase() === net.toLowerCase();
  const a = ipv4(addr), n = ipv4(net), b = Number(bits);
  if (a === null || n === null || !Number.isInteger(b) || b < 0 || b > 32) return false;
  const mask = b === 0 ? 0 : (~0 << (32 - b)) >>> 0;
  return ((a & mask) >>> 0) === ((n & mask) >>> 0);
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
    ...(key !== undefined ? { idempotency_key: key } : {}),
  };
}
