/**
 * The pure half of consuming a second-factor code: given the factor record as
 * read, the time and what the code matched, decide the outcome, the record to
 * write and the audit entries. second_factor.ts commits the decision in the
 * same atomic op as the read (one compare-and-set: lock, failure count and
 * acceptance together), so nothing here touches KV.
 */
import type { AuditInput } from "../audit/mod.ts";
import type { SecondFactorRecord } from "../../kv/identity_factors.ts";

export const OTP_MAX_FAILURES = 5;
export const OTP_FAILURE_WINDOW_MS = 5 * 60_000;
export const OTP_LOCK_MS = 15 * 60_000;

/**
 * What the code matched in the record: the TOTP time-steps of the window whose
 * code it is (none: a wrong code), or a recovery code's hash.
 */
export type CodeMatch =
  | { kind: "totp"; steps: number[] }
  | { kind: "recovery"; hash: string | undefined; used?: boolean };

export type Judgement =
  | { outcome: "not_enrolled" }
  | { outcome: "locked"; lockedUntil: number; write: null; audit: AuditInput[] }
  /** accepted: write `write` (failures cleared), then the caller's own mutations */
  | { outcome: "ok"; write: SecondFactorRecord; audit: AuditInput[] }
  /** decided on this read: the commit only checks the record is unchanged */
  | { outcome: "replayed"; kind: CodeMatch["kind"]; audit: AuditInput[] }
  | {
    outcome: "failed" | "locked";
    write: SecondFactorRecord;
    lockedUntil: number | null;
    triesLeft: number;
    audit: AuditInput[];
  };

/** Whether the factor is locked at `now` (then the code is not even looked at). */
export function isLocked(rec: SecondFactorRecord, now: number): boolean {
  return rec.locked_until !== null && rec.locked_until > now;
}

/**
 * Judges a code against the factor record at `now`. `match` is null when the
 * record is locked (the code was not checked).
 */
export function judgeCode(
  rec: SecondFactorRecord | null,
  now: number,
  match: CodeMatch | null,
  adminId: string,
): Judgement {
  if (!rec) return { outcome: "not_enrolled" };
  const target = { type: "admin", id: adminId };
  if (match === null || isLocked(rec, now)) {
    return { outcome: "locked", lockedUntil: rec.locked_until!, write: null, audit: [] };
  }
  let next: SecondFactorRecord | null = null;
  let replayed = false;
  if (match.kind === "recovery") {
    if (match.hash !== undefined) {
      next = {
        ...rec,
        recovery_code_hashes: rec.recovery_code_hashes.filter((h) => h !== match.hash),
        used_recovery_code_hashes: [...(rec.used_recovery_code_hashes ?? []), match.hash],
      };
    } else if (match.used) replayed = true;
  } else {
    // A code is spent with its step and every step before it. The same six digits in two
    // steps of the window are a replay while either is spent, and spend both when accepted
    // (README, "Second factor").
    const { steps } = match;
    const last = rec.last_step;
    if (steps.length > 0 && last !== null && steps.some((step) => step <= last)) replayed = true;
    else if (steps.length > 0) next = { ...rec, last_step: Math.max(...steps) };
  }
  if (next) {
    next = { ...next, failures: [], locked_until: null };
    const audit: AuditInput[] = match.kind === "recovery"
      ? [{
        action: "auth.recovery_code_used",
        target,
        result: "ok",
        after: { remaining: next.recovery_code_hashes.length },
      }]
      : [];
    return { outcome: "ok", write: next, audit };
  }
  if (replayed) {
    return {
      outcome: "replayed",
      kind: match.kind,
      audit: [{
        action: "auth.otp_replayed",
        target,
        result: "denied",
        reason: `${match.kind === "totp" ? "TOTP" : "recovery"} code already used`,
      }],
    };
  }
  return judgeFailure(rec, now, match.kind, target);
}

/** A wrong code: one more failure in the window, and the lock at the limit. */
function judgeFailure(
  rec: SecondFactorRecord,
  now: number,
  kind: CodeMatch["kind"],
  target: { type: string; id: string },
): Judgement {
  const failures = [...rec.failures.filter((t) => t > now - OTP_FAILURE_WINDOW_MS), now];
  const locks = failures.length >= OTP_MAX_FAILURES;
  const failed: SecondFactorRecord = locks
    ? { ...rec, failures: [], locked_until: now + OTP_LOCK_MS }
    : { ...rec, failures };
  const audit: AuditInput[] = [{
    action: "auth.otp_failed",
    target,
    result: "denied",
    reason: `wrong ${
      kind === "totp" ? "TOTP" : "recovery"
    } code (${failures.length} of ${OTP_MAX_FAILURES})`,
  }];
  if (locks) {
    audit.push({
      action: "auth.otp_locked",
      target,
      result: "denied",
      reason: `${OTP_MAX_FAILURES} failed codes within ${OTP_FAILURE_WINDOW_MS / 60_000} minutes`,
      after: { locked_until: new Date(failed.locked_until!).toISOString() },
    });
  }
  return {
    outcome: locks ? "locked" : "failed",
    write: failed,
    lockedUntil: failed.locked_until,
    triesLeft: OTP_MAX_FAILURES - failures.length,
    audit,
  };
}
