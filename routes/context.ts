/** From Hono's context to the plain `CallContext` services take. */
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import type { CallContext, RequestMeta } from "../domain/actor.ts";
import { AppError } from "../core/errors.ts";

export function requestMeta(c: Context<AppEnv>): RequestMeta {
  const forwarded = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
  let ip: string | null = forwarded || null;
  if (!ip) {
    try {
      // deno-lint-ignore no-explicit-any
      const info = (c.env as any)?.remoteAddr ?? (c.env as any)?.info?.remoteAddr;
      ip = info?.hostname ?? null;
    } catch {
      ip = null;
    }
  }
  return {
    request_id: c.get("requestId"),
    ip,
    user_agent: c.req.header("user-agent")?.slice(0, 256) ?? null,
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
    ...(key !== undefined ? { idempotency_key: key } : {}),
  };
}
