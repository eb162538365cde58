/**
 * Client `Idempotency-Key`s: the same key with the same request gives the first
 * answer again; the same key with a different request is 422
 * `idempotency_key_reused`. Keys are scoped per caller and route and kept
 * `IDEMPOTENCY_RETENTION_MS` (48 h: a client may retry with its key for a day and more).
 *
 * A claim is written before the work starts, so two concurrent requests with
 * one key cannot both run it. The operation binds the record it creates to the
 * claim IN ITS OWN COMMIT (`binding.bind(op, id)`): if the process dies after
 * that commit but before the answer is stored, a retry with the key finds the
 * record and answers from it (`resume`) instead of creating a second one.
 */
import { keys } from "./keys.ts";
import { sha256Hex } from "../core/encoding.ts";
import type { Clock } from "../core/clock.ts";
import { AppError, type ErrorCode, type FieldError, isTryAgain } from "../core/errors.ts";
import { commitChecked } from "./atomic.ts";

export const IDEMPOTENCY_RETENTION_MS = 48 * 3600_000;
/** a claim older than this was abandoned (its process died); longer than any Stripe call */
export const IDEMPOTENCY_LEASE_MS = 120_000;

export interface IdempotencyScope {
  /** who sent it (admin id) */
  owner: string;
  /** which route (`POST /refunds`) */
  route: string;
  /** the client's key, 1–255 characters */
  key: string;
}

/** The operation's answer (older records also carry an HTTP status, which is ignored). */
export interface StoredResponse {
  body: unknown;
}

interface StoredError {
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  extra?: Record<string, unknown>;
}

interface IdempotencyRecord {
  claim_id: string;
  fingerprint: string;
  state: "in_flight" | "done";
  response: StoredResponse | null;
  error: StoredError | null;
  /** the record the operation created, once its commit went through */
  resource_id: string | null;
  created_at: number;
  lease_until: number;
  expires_at: number;
}

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
}

export interface IdempotentResult extends StoredResponse {
  /**
   * true when this answer is an earlier request's and nothing was done now (the stored
   * answer, or a record an earlier request made, read back); the route sends it as
   * `Idempotent-Replayed: true`
   */
  replayed: boolean;
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

/** A stable hash of a request (key order and `undefined` members do not matter). */
export function requestFingerprint(request: unknown): Promise<string> {
  return Promise.resolve(sha256Hex(JSON.stringify(canonical(request))));
}

function recordKey(scope: IdempotencyScope): Promise<Deno.KvKey> {
  return Promise.resolve(keys.idempotencyKey(scope.owner, scope.route, sha256Hex(scope.key)));
}

function replayError(error: StoredError): AppError {
  return new AppError(error.code, error.detail, { errors: error.errors, extra: error.extra });
}

const IN_FLIGHT = "a request with this Idempotency-Key is still being processed; retry in a moment";
/** Seconds a client waits before sending it again (`Retry-After` on that 409). */
const IN_FLIGHT_RETRY_AFTER_S = 1;

/** What claiming the key found: the key is ours now, or the first answer stands. */
type Claim =
  | { kind: "claimed"; prior: IdempotencyRecord | null }
  | { kind: "answered"; response: StoredResponse };

/**
 * Takes the key when it is new, expired or abandoned; a concurrent taker loses
 * on the check and, run again, meets the winner's claim (or its answer).
 */
async function claim(
  kv: Deno.Kv,
  key: Deno.KvKey,
  fresh: IdempotencyRecord,
  fingerprint: string,
): Promise<Claim> {
  const now = fresh.created_at;
  const { value } = await commitChecked<Claim>(kv, async (op) => {
    const existing = await kv.get<IdempotencyRecord>(key);
    op.check(existing);
    const prior = existing.value && existing.value.expires_at > now ? existing.value : null;
    if (prior) {
      if (prior.fingerprint !== fingerprint) {
        throw new AppError(
          "idempotency_key_reused",
          "this Idempotency-Key was already used for a different request; use a new key for a new request",
          {
            errors: [{ path: "header.idempotency-key", message: "already used with another body" }],
          },
        );
      }
      if (prior.state === "done") {
        if (prior.error) throw replayError(prior.error);
        return { kind: "answered", response: prior.response! };
      }
      if (prior.lease_until > now) {
        throw new AppError("conflict", IN_FLIGHT, { retryAfter: IN_FLIGHT_RETRY_AFTER_S });
      }
    }
    op.set(key, fresh, { expireIn: IDEMPOTENCY_RETENTION_MS });
    return { kind: "claimed", prior };
  }, { what: "the Idempotency-Key" });
  return value;
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
  const key = await recordKey(scope);
  const claimId = crypto.randomUUID();
  const now = clock.now();
  const fresh: IdempotencyRecord = {
    claim_id: claimId,
    fingerprint,
    state: "in_flight",
    response: null,
    error: null,
    resource_id: null,
    created_at: now,
    lease_until: now + IDEMPOTENCY_LEASE_MS,
    expires_at: now + IDEMPOTENCY_RETENTION_MS,
  };
  const claimed = await claim(kv, key, fresh, fingerprint);
  if (claimed.kind === "answered") return { ...claimed.response, replayed: true };
  if (claimed.prior?.resource_id) {
    const resumed = await work.resume(claimed.prior.resource_id);
    if (resumed !== null) {
      const { acted = false, ...response } = resumed;
      await finish(kv, key, claimId, { response, resource_id: claimed.prior.resource_id });
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
    await finish(kv, key, claimId, { response });
    return { ...response, replayed: false };
  } catch (error) {
    if (!(error instanceof AppError)) throw error; // a crash: the lease runs out, then `resume`
    await finish(kv, key, claimId, {
      error: { code: error.code, detail: error.message, errors: error.errors, extra: error.extra },
      // "Try again" is no answer: the claim is let go, and the same key sent again
      // takes it over and answers from the record the operation made (`resume`).
      release: isTryAgain(error),
    });
    throw error;
  }
}

/**
 * Stores the answer on our claim (if it is still ours: it may have been taken
 * over after our lease ran out). An error before the operation's record
 * exists removes the claim instead, so the key can be sent again. A claim
 * that cannot be finished is left to its lease, as after a crash.
 */
async function finish(
  kv: Deno.Kv,
  key: Deno.KvKey,
  claimId: string,
  outcome: {
    response?: StoredResponse;
    error?: StoredError;
    resource_id?: string | null;
    release?: boolean;
  },
): Promise<void> {
  try {
    await commitChecked(kv, async (op) => {
      const current = await kv.get<IdempotencyRecord>(key);
      if (current.value?.claim_id !== claimId) return; // taken over after our lease ran out
      op.check(current);
      if (outcome.error && current.value.resource_id === null) return void op.delete(key);
      if (outcome.release) {
        return void op.set(key, { ...current.value, lease_until: 0 }, {
          expireIn: IDEMPOTENCY_RETENTION_MS,
        });
      }
      const done: IdempotencyRecord = {
        ...current.value,
        state: "done",
        response: outcome.response ?? null,
        error: outcome.error ?? null,
        resource_id: outcome.resource_id ?? current.value.resource_id,
      };
      op.set(key, done, { expireIn: IDEMPOTENCY_RETENTION_MS });
    }, { attempts: 5 });
  } catch (e) {
    if (!(e instanceof AppError && e.code === "conflict")) throw e;
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
