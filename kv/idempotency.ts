/**
 * Client `Idempotency-Key`s: the same key with the same request gives the first
 * answer again; the same key with a different request is 422
 * `idempotency_key_reused`. Keys are scoped per caller and kept
 * `IDEMPOTENCY_RETENTION_MS` (48 h: a client may retry with its key for a day and more).
 * The records are kept per route, and one key belongs to one request across every keyed
 * route: the claim checks and writes the caller's marker for the key
 * (kv/idempotency_claim.ts).
 *
 * A claim is written before the work starts, so two concurrent requests with
 * one key cannot both run it. The operation binds the record it creates to the
 * claim IN ITS OWN COMMIT (`binding.bind(op, id)`): if the process dies after
 * that commit but before the answer is stored, a retry with the key finds the
 * record and answers from it (`resume`) instead of creating a second one.
 * Until the dead claim's lease runs out, a route that can read its action back
 * (`asItStands`) answers it as it stands, as the same request sent without a key
 * would be; the claim module (kv/idempotency_claim.ts) answers the rest 409.
 * A stored answer of an action still in progress (a `202`: Stripe's outcome not
 * known yet) is no final answer either: sent again, the key answers the action as
 * it stands (`inProgress`), and once it is settled that answer is the key's
 * (README "A first session").
 */
import { sha256Hex } from "../core/encoding.ts";
import type { Clock } from "../core/clock.ts";
import type { CallContext } from "../domain/actor.ts";
import { AppError, isTryAgain } from "../core/errors.ts";
import {
  claim,
  claimKeys,
  finish,
  IDEMPOTENCY_LEASE_MS,
  IDEMPOTENCY_RETENTION_MS,
  type IdempotencyRecord,
  type IdempotencyScope,
  recordKey,
  restate,
  stillHeld,
  type StoredResponse,
} from "./idempotency_claim.ts";

export { IDEMPOTENCY_LEASE_MS, IDEMPOTENCY_RETENTION_MS } from "./idempotency_claim.ts";
export type { IdempotencyScope, StoredResponse } from "./idempotency_claim.ts";

/** Handed to the operation: call `bind` inside the commit that creates its record. */
export interface IdempotencyBinding {
  bind(op: Deno.AtomicOperation, resourceId: string): Promise<void>;
}

/** What `resume` answers: the record's answer, and whether getting it did something now. */
export interface ResumedResponse extends StoredResponse {
  /**
   * true when this request did work the earlier one could not (a retry whose attach answer
   * was lost, confirmed now): its answer is no replay (`Idempotent-Replayed` is only for an
   * answer of an earlier request, nothing done now). Not stored: a later replay is a replay.
   */
  acted?: boolean;
}

export interface IdempotentRun {
  run(binding: IdempotencyBinding | null): Promise<StoredResponse>;
  /**
   * the answer for a record created by a claim whose process died before answering, or
   * whose answer was "try again"; null: that record was closed without anything done (Stripe
   * asked to try again before acting), so the request runs afresh under the key
   */
  resume(resourceId: string): Promise<ResumedResponse | null>;
  /**
   * The action the record `resourceId` stands for, read while the request that made it
   * still holds the key's lease (it is still running, or its process died mid-call): what
   * the same request sent without a key would answer, reading only (no Stripe call, no
   * write). `settled`: the action is done with, and this answer becomes the key's. null:
   * nothing to answer from yet (409 with the lease left). Without it such a request is 409.
   */
  asItStands?(resourceId: string): Promise<StandingResponse | null>;
  /**
   * A stored answer sent again: when it is of an action that was still in progress then (a
   * `202`, such as a refund `processing`), the action as it stands now, read only (what GET
   * answers, in the shape of `run`'s answer); `settled`: no longer in progress, and this
   * answer becomes the key's. null: the stored answer is final and is replayed as stored.
   */
  inProgress?(stored: StoredResponse): Promise<StandingResponse | null>;
}

/** What `asItStands` answers: the action as it stands, and whether it is settled. */
export interface StandingResponse extends StoredResponse {
  settled: boolean;
}

export interface IdempotentResult extends StoredResponse {
  /**
   * true when this answer is an earlier request's and nothing was done now (the stored
   * answer, or a record an earlier request made, read back); the route sends it as
   * `Idempotent-Replayed: true`
   */
  replayed: boolean;
}

/**
 * The id of the action a stored answer shows still `processing` (its `{id, status}`: a refund,
 * a retry attempt, a capture or cancel answered `202` while Stripe's outcome was unknown), for
 * `inProgress` to read back; null when the answer shows none.
 */
export function processingIn(stored: StoredResponse): string | null {
  const body = stored.body as { id?: unknown; status?: unknown } | null;
  return body?.status === "processing" && typeof body.id === "string" ? body.id : null;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.keys(value).sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]);
  }
  return value;
}

/**
 * The key's scope for a call (null: it sent no key): the caller, the route, the key, and
 * the method and path it came with, which a reuse on another request names. `sameAs`: the
 * method and path of the request this one is, when it came by another path (the approvals
 * queue's approve of a refund is the refund's own approve: README "A first session").
 */
export function idempotencyScope(
  ctx: CallContext,
  route: string,
  sameAs?: string,
): IdempotencyScope | null {
  if (ctx.idempotency_key === undefined) return null;
  const sent = ctx.idempotency_request;
  const request = sent === undefined ? undefined : sameAs ?? sent;
  return {
    owner: ctx.actor.id,
    route,
    key: ctx.idempotency_key,
    ...(request !== undefined ? { request } : {}),
    ...(sent !== undefined && sent !== request ? { sent } : {}),
  };
}

/** A stable hash of a request (key order and `undefined` members do not matter). */
export function requestFingerprint(request: unknown): Promise<string> {
  return Promise.resolve(sha256Hex(JSON.stringify(canonical(request))));
}

/**
 * Runs `work.run` once per (scope, fingerprint); without a scope (no key sent) it just runs.
 * AppErrors thrown before the operation's record exists leave no trace (the client may
 * fix the request and send the key again); after it, they are the stored answer,
 * except a "try again" (429, 503: `isTryAgain`), after which the key resumes the record.
 */
export async function runIdempotent(
  kv: Deno.Kv,
  clock: Clock,
  scope: IdempotencyScope | null,
  fingerprint: string,
  work: IdempotentRun,
): Promise<IdempotentResult> {
  if (scope === null) return { ...await work.run(null), replayed: false };
  const at = await claimKeys(scope);
  const key = at.record;
  const claimId = crypto.randomUUID();
  const now = clock.now();
  const fresh: IdempotencyRecord = {
    claim_id: claimId,
    fingerprint,
    ...(scope.request !== undefined ? { request: scope.request } : {}),
    state: "in_flight",
    response: null,
    error: null,
    resource_id: null,
    created_at: now,
    lease_until: now + IDEMPOTENCY_LEASE_MS,
    expires_at: now + IDEMPOTENCY_RETENTION_MS,
  };
  const claimed = await claim(kv, at, fresh, work.asItStands !== undefined);
  if (claimed.kind === "answered") {
    const standing = await work.inProgress?.(claimed.response) ?? null;
    if (standing === null) return { ...claimed.response, replayed: true };
    const { settled, ...response } = standing;
    if (settled) await restate(kv, key, claimed.claimId, response);
    return { ...response, replayed: true };
  }
  if (claimed.kind === "held") {
    // the first request holds the key but recorded its action: answered as it stands
    const standing = await work.asItStands!(claimed.record.resource_id);
    if (standing === null) throw stillHeld(claimed.record, clock.now());
    const { settled, ...response } = standing;
    if (settled) {
      await finish(kv, at, claimed.record.claim_id, { response, settledWhileHeld: true });
    }
    return { ...response, replayed: true };
  }
  if (claimed.prior?.resource_id) {
    const resumed = await work.resume(claimed.prior.resource_id);
    if (resumed !== null) {
      const { acted = false, ...response } = resumed;
      await finish(kv, at, claimId, { response, resource_id: claimed.prior.resource_id });
      return { ...response, replayed: !acted };
    }
  }

  const binding: IdempotencyBinding = {
    async bind(op, resourceId) {
      const current = await kv.get<IdempotencyRecord>(key);
      if (current.value?.claim_id !== claimId) {
        throw new AppError(
          "conflict",
          "this Idempotency-Key was taken over by another request; retry with the same key",
        );
      }
      op.check(current).set(key, { ...current.value, resource_id: resourceId }, {
        expireIn: IDEMPOTENCY_RETENTION_MS,
      });
    },
  };
  try {
    const response = await work.run(binding);
    await finish(kv, at, claimId, { response });
    return { ...response, replayed: false };
  } catch (error) {
    if (!(error instanceof AppError)) throw error; // a crash: the lease runs out, then `resume`
    await finish(kv, at, claimId, {
      error: { code: error.code, detail: error.message, errors: error.errors, extra: error.extra },
      // "Try again" is no answer: the claim is let go, and the same key sent again
      // takes it over and answers from the record the operation made (`resume`).
      release: isTryAgain(error),
    });
    throw error;
  }
}

/**
 * The record the request first sent under `scope`'s key made, or null (no key, no live
 * record, or the first request made none).
 */
export async function idempotentResourceOf(
  kv: Deno.Kv,
  scope: IdempotencyScope | null,
): Promise<string | null> {
  if (scope === null) return null;
  const { value } = await kv.get<IdempotencyRecord>(await recordKey(scope));
  return value?.resource_id ?? null;
}
