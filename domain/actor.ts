/**
 * Who is acting and on which request: handed by routes to every service call
 * that changes something, so the audit entry can say who, how and from where.
 * Services never see Hono's context.
 */
import { STRIPE_ACTOR } from "./system_actors.ts";

export type ActorType = "admin" | "system" | "stripe";

export interface Actor {
  type: ActorType;
  /** admin id (`adm_…`), or a job, CLI or Stripe as domain/system_actors.ts names it */
  id: string;
  role: string | null;
}

export interface RequestMeta {
  request_id: string;
  ip: string | null;
  user_agent: string | null;
}

/**
 * What a request set out to do, for the entry that refuses it before its
 * handler runs (a wrong second factor): the method, the operation's path as
 * the OpenAPI document writes it (`/api/admin/payments/refunds/{id}/approve`)
 * and the path's parameters (the refund's id). Never a code or a token.
 */
export interface AttemptedRequest {
  method: string;
  path: string;
  params?: Record<string, string>;
}

export interface CallContext {
  actor: Actor;
  request: RequestMeta | null;
  /** a second factor (TOTP code or step-up token) was verified for this call */
  second_factor: boolean;
  /** the client's `Idempotency-Key`, when it sent one */
  idempotency_key?: string;
  /** the method and path the key came with (`POST /api/admin/payments/refunds`), with the key */
  idempotency_request?: string;
}

/** A job's or a CLI's context; `job` is one of domain/system_actors.ts. */
export function systemContext(job: string): CallContext {
  return { actor: { type: "system", id: job, role: null }, request: null, second_factor: false };
}

export function stripeContext(eventId: string): CallContext {
  return {
    actor: { type: "stripe", id: STRIPE_ACTOR, role: null },
    request: { request_id: eventId, ip: null, user_agent: null },
    second_factor: false,
  };
}

/** Who is calling, set by the authentication middleware. */
export interface Principal {
  admin_id: string;
  role: string;
  email: string;
  /** hash of the bearer token used, to bind step-up tokens to it */
  token_hash: string;
  /** a second factor was verified for this request */
  second_factor: boolean;
}

/**
 * Who did something and when, as a 409 says it: "by adm_… at …", and "by you
 * (adm_…) at …" to the person who did it, never named as if someone else.
 */
export function byWhom(by: string, at: string | null, ctx: CallContext): string {
  const who = ctx.actor.id === by ? `you (${by})` : by;
  return at ? `by ${who} at ${at}` : `by ${who}`;
}
