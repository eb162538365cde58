/**
 * Second-factor state, step-up tokens and request-rate windows in KV.
 *
 *   ["admin_second_factor", admin id]        -> SecondFactorRecord (sealed TOTP secret, replay and lock state)
 *   ["step_up_tokens", sha256(token)]        -> StepUpRecord
 *   ["rate_windows", kind, token hash, n]    -> Deno.KvU64 request count in window n
 *
 * The second factor lives apart from the admin record so that using a code
 * never contends with (or invalidates a read of) a role or status change.
 */
import { keys } from "./keys.ts";

export interface SecondFactorRecord {
  admin_id: string;
  /** AES-GCM sealed base32 TOTP secret (services/identity/crypto.ts) */
  sealed_totp_secret: string;
  /** ISO 8601 */
  enrolled_at: string;
  /** random per enrolment: step-up tokens name it, so a reset revokes them */
  enrolment_id: string;
  /** the last TOTP time-step accepted: a code passes only if every step it matches is later */
  last_step: number | null;
  /** ms timestamps of failed attempts inside the failure window */
  failures: number[];
  /** ms; the factor refuses every code until then */
  locked_until: number | null;
  /** HMAC of each unused recovery code */
  recovery_code_hashes: string[];
  /** HMAC of each recovery code used: sent again it is "already used", not a wrong code */
  used_recovery_code_hashes?: string[];
}

export interface StepUpRecord {
  admin_id: string;
  /** the bearer token it was issued to: it works with that token only */
  token_hash: string;
  /** the factor enrolment it was stepped up with (a reset revokes it) */
  enrolment_id: string;
  /** ms since epoch; checked on every use (`expireIn` only bounds when KV drops it) */
  expires_at: number;
}

export function getSecondFactor(
  kv: Deno.Kv,
  adminId: string,
): Promise<Deno.KvEntryMaybe<SecondFactorRecord>> {
  return kv.get<SecondFactorRecord>(keys.adminSecondFactor(adminId));
}

/** Sets the record, checked against the entry read (`versionstamp: null` when enrolling). */
export function addSetSecondFactor(
  op: Deno.AtomicOperation,
  read: { versionstamp: string | null },
  next: SecondFactorRecord,
): void {
  const key = keys.adminSecondFactor(next.admin_id);
  op.check({ key, versionstamp: read.versionstamp }).set(key, next);
}

export function getStepUp(
  kv: Deno.Kv,
  tokenHash: string,
): Promise<Deno.KvEntryMaybe<StepUpRecord>> {
  return kv.get<StepUpRecord>(keys.stepUpToken(tokenHash));
}

/** A step-up token's record and the admin's factor (to see a reset since it was issued), in one read. */
export async function getStepUpWithFactor(
  kv: Deno.Kv,
  tokenHash: string,
  adminId: string,
): Promise<{ stepUp: StepUpRecord | null; factor: SecondFactorRecord | null }> {
  const [stepUp, factor] = await kv.getMany<[StepUpRecord, SecondFactorRecord]>([
    keys.stepUpToken(tokenHash),
    keys.adminSecondFactor(adminId),
  ]);
  return { stepUp: stepUp.value, factor: factor.value };
}

export function addCreateStepUp(
  op: Deno.AtomicOperation,
  tokenHash: string,
  record: StepUpRecord,
  ttlMs: number,
): void {
  const key = keys.stepUpToken(tokenHash);
  // A minute of slack: KV may drop it later than asked, never earlier; expires_at decides.
  op.check({ key, versionstamp: null }).set(key, record, { expireIn: ttlMs + 60_000 });
}

export function rateWindowKey(kind: string, tokenHash: string, window: number): Deno.KvKey {
  return keys.rateWindow(kind, tokenHash, window);
}

/** Requests counted so far in window `window`. */
export function readRateCount(entry: Deno.KvEntryMaybe<Deno.KvU64>): number {
  return entry.value ? Number(entry.value.value) : 0;
}

/** The count of one window, read alone (the throttle's periodic refresh). */
export function getRateCount(
  kv: Deno.Kv,
  kind: string,
  tokenHash: string,
  window: number,
): Promise<Deno.KvEntryMaybe<Deno.KvU64>> {
  return kv.get<Deno.KvU64>(keys.rateWindow(kind, tokenHash, window));
}

/**
 * Counts `requests` (default one) in window `window`. `sum` never conflicts, so
 * concurrent requests do not retry (and may overshoot the limit by at most their
 * number). `sum` cannot carry `expireIn`, so the first write of a window deletes
 * the token's older windows: at most two windows per token stay in KV.
 */
export async function countRequest(
  kv: Deno.Kv,
  kind: string,
  tokenHash: string,
  window: number,
  firstInWindow: boolean,
  requests = 1,
): Promise<void> {
  const op = kv.atomic().sum(keys.rateWindow(kind, tokenHash, window), BigInt(requests));
  if (firstInWindow) {
    const older = kv.list({
      start: keys.rateWindow(kind, tokenHash, 0),
      end: keys.rateWindow(kind, tokenHash, window),
    }, { limit: 20 });
    for await (const e of older) op.delete(e.key);
  }
  await op.commit();
}

/** Removes an admin's second factor (a reset waiting for its person to enroll a new one). */
export function addDeleteSecondFactor(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<SecondFactorRecord>,
): void {
  op.check(read).delete(read.key);
}

/**
 * Counts one request in the window if it is still under `limit`, as one
 * compare-and-set (the count's versionstamp checked): parallel requests in
 * any number of isolates never count past `limit`. Returns false when full.
 */
export async function countRequestWithin(
  kv: Deno.Kv,
  kind: string,
  id: string,
  window: number,
  limit: number,
): Promise<boolean> {
  const key = keys.rateWindow(kind, id, window);
  for (let attempt = 0; attempt < 64; attempt++) {
    const entry = await kv.get<Deno.KvU64>(key);
    const count = readRateCount(entry);
    if (count >= limit) return false;
    const op = kv.atomic().check(entry).set(key, new Deno.KvU64(BigInt(count + 1)), {
      expireIn: 24 * 3600_000,
    });
    if (count === 0) {
      const older = kv.list({
        start: keys.rateWindow(kind, id, 0),
        end: key,
      }, { limit: 20 });
      for await (const e of older) op.delete(e.key);
    }
    if ((await op.commit()).ok) return true;
  }
  return false; // a storm of contention: refusing is the safe answer
}

/**
 * Adds one to the count of `window` in one compare-and-set and returns the
 * count this addition made (1 for the first), so each of a burst of callers
 * learns its own place. Null when contention outlasted the retries.
 */
export async function countOneMore(
  kv: Deno.Kv,
  kind: string,
  id: string,
  window: number,
): Promise<number | null> {
  const key = keys.rateWindow(kind, id, window);
  for (let attempt = 0; attempt < 64; attempt++) {
    const entry = await kv.get<Deno.KvU64>(key);
    const count = readRateCount(entry) + 1;
    const op = kv.atomic().check(entry).set(key, new Deno.KvU64(BigInt(count)), {
      expireIn: 24 * 3600_000,
    });
    if (count === 1) {
      const older = kv.list({ start: keys.rateWindow(kind, id, 0), end: key }, { limit: 20 });
      for await (const e of older) op.delete(e.key);
    }
    if ((await op.commit()).ok) return count;
  }
  return null;
}
