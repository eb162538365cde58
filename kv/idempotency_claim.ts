/**
 * The claim on a client's `Idempotency-Key` (kv/idempotency.ts runs requests under it):
 * the record kept per key, taking the key, and what a request meets when the key is taken.
 *
 * A key taken by a request still running, or by one whose process died mid-call, is held
 * until its lease runs out. Meanwhile the same request is answered from the action the
 * first one recorded, when there is one (README "API": the action as it stands, the key's
 * answer once it is settled); when nothing is recorded yet, `409` with `Retry-After` set to
 * the time left on the lease.
 *
 * A key belongs to one request per caller across every keyed route (README "A first session":
 * the same key with another request, on any route taking one, is 422). Records stay per route
 * (their keys unchanged, so a record kept before the marker still replays on its route); the
 * claim's commit also writes, and checks, the caller's marker for the key: which route and
 * request took it. A key another route took is 422 naming that request. A record kept before
 * the marker was has none, so until it expires (`IDEMPOTENCY_RETENTION_MS`) its key is judged
 * on its own route only, as it was when it was kept.
 */
import { keys } from "./keys.ts";
import { sha256Hex } from "../core/encoding.ts";
import { AppError, type ErrorCode, type FieldError } from "../core/errors.ts";
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
  /**
   * the request's method and path (`POST /api/admin/payments/disputes/dsp_…/accept`): the
   * one it came with, or the path it is one request with (the approvals queue's approve of a
   * refund is the refund's own approve)
   */
  request?: string;
  /** the method and path it came with, when `request` names another path it is one with */
  sent?: string;
}

/** The operation's answer (older records also carry an HTTP status, which is ignored). */
export interface StoredResponse {
  body: unknown;
}

export interface StoredError {
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  extra?: Record<string, unknown>;
}

export interface IdempotencyRecord {
  claim_id: string;
  fingerprint: string;
  /** the first request's method and path (records kept before it was: absent) */
  request?: string;
  state: "in_flight" | "done";
  response: StoredResponse | null;
  error: StoredError | null;
  /** the record the operation created, once its commit went through */
  resource_id: string | null;
  created_at: number;
  lease_until: number;
  expires_at: number;
}

/** Which request a caller's key belongs to, across routes (one per caller and key). */
export interface KeyMarker {
  /** the claim that wrote it, which alone removes it (with its record) */
  claim_id: string;
  route: string;
  /** the request's method and path, when it came through a route */
  request?: string;
  fingerprint: string;
  expires_at: number;
}

/** Where a claim lives: its route's record and the caller's marker for the key. */
export interface ClaimKeys {
  record: Deno.KvKey;
  marker: Deno.KvKey;
  route: string;
  /** the scope's `sent`: the path this request came with, named in a refusal */
  sent?: string;
}

export function recordKey(scope: IdempotencyScope): Promise<Deno.KvKey> {
  return Promise.resolve(keys.idempotencyKey(scope.owner, scope.route, sha256Hex(scope.key)));
}

export async function claimKeys(scope: IdempotencyScope): Promise<ClaimKeys> {
  return {
    record: await recordKey(scope),
    marker: keys.idempotencyOwnerKey(scope.owner, sha256Hex(scope.key)),
    route: scope.route,
    ...(scope.sent !== undefined ? { sent: scope.sent } : {}),
  };
}

function markerOf(route: string, record: IdempotencyRecord): KeyMarker {
  return {
    claim_id: record.claim_id,
    route,
    ...(record.request !== undefined ? { request: record.request } : {}),
    fingerprint: record.fingerprint,
    expires_at: record.expires_at,
  };
}

function replayError(error: StoredError): AppError {
  return new AppError(error.code, error.detail, { errors: error.errors, extra: error.extra });
}

/**
 * 409 for a key whose first request holds its lease and has recorded nothing this request
 * could answer from: it may still be running, or its process may have stopped mid-call.
 * `Retry-After` is the time left on the lease, when the key frees at the latest.
 */
export function stillHeld(record: IdempotencyRecord, now: number): AppError {
  const leftS = Math.max(1, Math.ceil((record.lease_until - now) / 1000));
  const frees = new Date(record.lease_until).toISOString();
  return new AppError(
    "conflict",
    "a request with this Idempotency-Key is still being processed, or its process stopped " +
      `mid-call before recording what it did; the key frees at ${frees} (in ${leftS} s), when ` +
      "the same request resumes from what the first did, or is run if it did nothing",
    { retryAfter: leftS },
  );
}

/**
 * 422 for a key first used with another request: another method or path (another
 * dispute, another refund, another route) names the first; the same request with another
 * body says so, naming the path this one came with when it is another path of the same
 * request (`sent`: the approvals queue's approve of the refund first approved on its route).
 */
function keyReused(prior: { request?: string }, fresh: IdempotencyRecord, sent?: string): AppError {
  const fix = "send a new Idempotency-Key for a new request";
  const otherPath = prior.request !== undefined && fresh.request !== undefined &&
    prior.request !== fresh.request;
  const alias = sent !== undefined ? ` (this ${sent} is that same request)` : "";
  const message = otherPath
    ? `first used for ${prior.request}, another request than this ${sent ?? fresh.request}: ${fix}`
    : prior.request !== undefined && fresh.request === undefined
    ? `first used for ${prior.request}: ${fix}`
    : prior.request !== undefined && fresh.request !== undefined
    ? `already used with another body on ${prior.request}${alias}: ${fix}`
    : `already used for another request (another body, or another path): ${fix}`;
  return new AppError(
    "idempotency_key_reused",
    `this Idempotency-Key was ${message}`,
    { errors: [{ path: "header.idempotency-key", message }] },
  );
}

/**
 * What claiming the key found: the key is ours now, the first answer stands, or the first
 * request holds the key and recorded `resource_id` (its action, to answer as it stands).
 */
export type Claim =
  | { kind: "claimed"; prior: IdempotencyRecord | null }
  | { kind: "answered"; response: StoredResponse; claimId: string }
  | { kind: "held"; record: IdempotencyRecord & { resource_id: string } };

/**
 * Takes the key when it is new, expired or abandoned; a concurrent taker loses
 * on the check and, run again, meets the winner's claim (or its answer). A claim
 * still leased is `held` when it recorded its action and `canAnswerHeld`, else 409.
 * A key whose marker names another route is 422, checked in the same commit, so two
 * routes racing one key cannot both take it.
 */
export async function claim(
  kv: Deno.Kv,
  at: ClaimKeys,
  fresh: IdempotencyRecord,
  canAnswerHeld: boolean,
): Promise<Claim> {
  const now = fresh.created_at;
  const { value } = await commitChecked<Claim>(kv, async (op) => {
    const [existing, marked] = await kv.getMany<[IdempotencyRecord, KeyMarker]>([
      at.record,
      at.marker,
    ]);
    op.check(existing, marked);
    const marker = marked.value && marked.value.expires_at > now ? marked.value : null;
    if (marker && marker.route !== at.route) {
      throw keyReused({ request: marker.request ?? marker.route }, fresh, at.sent);
    }
    const prior = existing.value && existing.value.expires_at > now ? existing.value : null;
    if (prior) {
      if (prior.fingerprint !== fresh.fingerprint) throw keyReused(prior, fresh, at.sent);
      if (prior.state === "done") {
        if (prior.error) throw replayError(prior.error);
        return { kind: "answered", response: prior.response!, claimId: prior.claim_id };
      }
      if (prior.lease_until > now) {
        const resourceId = prior.resource_id;
        if (canAnswerHeld && resourceId !== null) {
          return { kind: "held", record: { ...prior, resource_id: resourceId } };
        }
        throw stillHeld(prior, now);
      }
    }
    op.set(at.record, fresh, { expireIn: IDEMPOTENCY_RETENTION_MS });
    op.set(at.marker, markerOf(at.route, fresh), { expireIn: IDEMPOTENCY_RETENTION_MS });
    return { kind: "claimed", prior };
  }, { what: "the Idempotency-Key" });
  return value;
}

/**
 * Stores the answer on our claim (if it is still ours: it may have been taken
 * over after our lease ran out). An error before the operation's record
 * exists removes the claim instead (and the key's marker, when it is this
 * claim's), so the key can be sent again, on any route. A claim
 * that cannot be finished is left to its lease, as after a crash.
 * `settledWhileHeld`: the answer of the action read while another request held
 * the claim; kept only on a claim still unanswered (the first request's own
 * answer, when it has one, stands).
 */
export async function finish(
  kv: Deno.Kv,
  at: ClaimKeys,
  claimId: string,
  outcome: {
    response?: StoredResponse;
    error?: StoredError;
    resource_id?: string | null;
    release?: boolean;
    settledWhileHeld?: boolean;
  },
): Promise<void> {
  try {
    await commitChecked(kv, async (op) => {
      const key = at.record;
      const current = await kv.get<IdempotencyRecord>(key);
      if (current.value?.claim_id !== claimId) return; // taken over after our lease ran out
      if (outcome.settledWhileHeld) {
        // answered since, or let go ("try again"): not ours to answer
        if (current.value.state !== "in_flight" || current.value.lease_until === 0) return;
      }
      op.check(current);
      if (outcome.error && current.value.resource_id === null) {
        const marker = await kv.get<KeyMarker>(at.marker);
        if (marker.value?.claim_id === claimId) op.check(marker).delete(at.marker);
        return void op.delete(key);
      }
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
 * Replaces the stored answer of an action that was still in progress when it was given by the
 * action's settled answer (README "A first session": once settled, that answer is the key's).
 * Kept only while the key still holds `claimId`'s answer; a lost race leaves it to the next
 * replay, which reads the same settled action.
 */
export async function restate(
  kv: Deno.Kv,
  key: Deno.KvKey,
  claimId: string,
  response: StoredResponse,
): Promise<void> {
  try {
    await commitChecked(kv, async (op) => {
      const current = await kv.get<IdempotencyRecord>(key);
      const record = current.value;
      if (record?.claim_id !== claimId || record.state !== "done" || record.error) return;
      op.check(current).set(key, { ...record, response }, { expireIn: IDEMPOTENCY_RETENTION_MS });
    }, { attempts: 5 });
  } catch (e) {
    if (!(e instanceof AppError && e.code === "conflict")) throw e;
  }
}
