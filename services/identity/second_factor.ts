/**
 * The second factor: TOTP codes (accepted once per admin), recovery codes
 * (single use) and the failure lock. Step-up tokens: identity_step_up.ts.
 *
 * Replay is refused by a compare-and-set of the last accepted time-step: the
 * factor record is read, checked and rewritten in ONE atomic op, so of two
 * concurrent requests with the same code exactly one commits; the other
 * re-reads, sees the step used and gets `otp_replayed`.
 */
import type { Clock } from "../../core/clock.ts";
import type { CallContext } from "../../domain/actor.ts";
import { type AuditInput, type AuditService } from "../audit/mod.ts";
import { AppError, type FieldError } from "../../core/errors.ts";
import { type IdentityKeys, newRecoveryCodes, RECOVERY_CODE_FORMAT } from "./crypto.ts";
import { b64url } from "../../core/encoding.ts";
import { matchTotpStep, newTotpSecret } from "./totp.ts";
import {
  addSetSecondFactor,
  getSecondFactor,
  type SecondFactorRecord,
} from "../../kv/identity_factors.ts";

export const OTP_MAX_FAILURES = 5;
export const OTP_FAILURE_WINDOW_MS = 5 * 60_000;
export const OTP_LOCK_MS = 15 * 60_000;

export interface SecondFactorDeps {
  kv: Deno.Kv;
  clock: Clock;
  keys: IdentityKeys;
  audit: AuditService;
}

export interface Enrolment {
  record: SecondFactorRecord;
  totpSecret: string;
  recoveryCodes: string[];
}

/** A fresh factor for `adminId` (creation, reset): new TOTP secret, new recovery codes. */
export async function enrol(d: SecondFactorDeps, adminId: string): Promise<Enrolment> {
  const totpSecret = newTotpSecret();
  const recoveryCodes = newRecoveryCodes();
  const record: SecondFactorRecord = {
    admin_id: adminId,
    sealed_totp_secret: await d.keys.seal(totpSecret, adminId),
    enrolled_at: new Date(d.clock.now()).toISOString(),
    enrolment_id: b64url(crypto.getRandomValues(new Uint8Array(12))),
    last_step: null,
    failures: [],
    locked_until: null,
    recovery_code_hashes: await Promise.all(recoveryCodes.map((c) => d.keys.hashRecoveryCode(c))),
  };
  return { record, totpSecret, recoveryCodes };
}

type Outcome = "ok" | "replayed" | "failed" | "locked" | "not_enrolled";

interface Attempt<T> {
  outcome: Outcome;
  lockedUntil: number | null;
  extra: T | null;
  /** wrong codes still allowed before the lock */
  triesLeft?: number;
}

/** What a caller adds to the commit when the code is accepted (a step-up token). */
export type OnAccepted<T> = (
  op: Deno.AtomicOperation,
  factor: SecondFactorRecord,
) => Promise<{ value: T; audit: AuditInput[] }>;

/**
 * Checks `code` (6-digit TOTP or `xxxx-xxxx` recovery code) for `ctx.actor`,
 * consumes it, and commits `onAccepted`'s mutations in the same atomic op.
 * `field` names the code in validation errors (`header.x-otp-code`, `body.code`).
 */
export async function consumeCode<T>(
  d: SecondFactorDeps,
  ctx: CallContext,
  code: string,
  field: string,
  onAccepted?: OnAccepted<T>,
): Promise<T | null> {
  const adminId = ctx.actor.id;
  const kind = /^\d{6}$/.test(code) ? "totp" : RECOVERY_CODE_FORMAT.test(code) ? "recovery" : null;
  if (kind === null) {
    const message = "must be the 6-digit code from your authenticator app, or a recovery code " +
      "like abcd-2345";
    await d.audit.record(ctx, {
      action: "auth.otp_failed",
      target: { type: "admin", id: adminId },
      result: "denied",
      reason: "malformed code",
    });
    const errors: FieldError[] = [{ path: field, message }];
    throw new AppError("otp_invalid", `${field} ${message}`, { errors });
  }
  // a match under any configured key (AUDIT_SIGNING_KEY rotation) is the code
  const recoveryHashes = kind === "recovery" ? await d.keys.recoveryCodeHashes(code) : null;

  const build = async (op: Deno.AtomicOperation) => {
    const now = d.clock.now();
    const entry = await getSecondFactor(d.kv, adminId);
    const target = { type: "admin", id: adminId };
    const none = { lockedUntil: null, extra: null };
    if (!entry.value) {
      return { value: { outcome: "not_enrolled", ...none } as Attempt<T>, audit: [] };
    }
    const rec = entry.value;
    if (rec.locked_until !== null && rec.locked_until > now) {
      return {
        value: { outcome: "locked", lockedUntil: rec.locked_until, extra: null } as Attempt<T>,
        audit: [],
      };
    }
    let next: SecondFactorRecord | null = null;
    let replayed = false;
    const recoveryHash = recoveryHashes?.find((h) => rec.recovery_code_hashes.includes(h));
    if (recoveryHashes !== null) {
      if (recoveryHash !== undefined) {
        next = {
          ...rec,
          recovery_code_hashes: rec.recovery_code_hashes.filter((h) => h !== recoveryHash),
        };
      }
    } else {
      const secret = await d.keys.unseal(rec.sealed_totp_secret, adminId);
      const step = matchTotpStep(secret, code, now);
      if (step !== null && rec.last_step !== null && step <= rec.last_step) replayed = true;
      else if (step !== null) next = { ...rec, last_step: step };
    }
    if (next) {
      next = { ...next, failures: [], locked_until: null };
      addSetSecondFactor(op, entry, next);
      const accepted = onAccepted ? await onAccepted(op, next) : { value: null, audit: [] };
      const audit: AuditInput[] = [...accepted.audit];
      if (recoveryHashes !== null) {
        audit.push({
          action: "auth.recovery_code_used",
          target,
          result: "ok",
          after: { remaining: next.recovery_code_hashes.length },
        });
      }
      return {
        value: { outcome: "ok", lockedUntil: null, extra: accepted.value } as Attempt<T>,
        audit,
      };
    }
    if (replayed) {
      op.check(entry); // decided on this read: a change in between runs it again
      return {
        value: { outcome: "replayed", ...none } as Attempt<T>,
        audit: [
          {
            action: "auth.otp_replayed",
            target,
            result: "denied",
            reason: "TOTP code already used",
          } satisfies AuditInput,
        ],
      };
    }
    const failures = [...rec.failures.filter((t) => t > now - OTP_FAILURE_WINDOW_MS), now];
    const locks = failures.length >= OTP_MAX_FAILURES;
    const failed: SecondFactorRecord = locks
      ? { ...rec, failures: [], locked_until: now + OTP_LOCK_MS }
      : { ...rec, failures };
    addSetSecondFactor(op, entry, failed);
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
      value: {
        outcome: locks ? "locked" : "failed",
        lockedUntil: failed.locked_until,
        extra: null,
        triesLeft: OTP_MAX_FAILURES - failures.length,
      } as Attempt<T>,
      audit,
    };
  };

  const attempt = await commitFactorChange(d, ctx, build);
  switch (attempt.outcome) {
    case "ok":
      return attempt.extra;
    case "replayed":
      throw new AppError(
        "otp_replayed",
        "this code was already used; wait for the next code from your authenticator app",
      );
    case "locked": {
      const retryAfter = Math.ceil(((attempt.lockedUntil ?? 0) - d.clock.now()) / 1000);
      throw new AppError(
        "otp_locked",
        `too many wrong codes: the second factor is locked until ${
          new Date(attempt.lockedUntil ?? 0).toISOString()
        }`,
        { retryAfter: Math.max(1, retryAfter) },
      );
    }
    case "not_enrolled":
      throw new AppError(
        "otp_invalid",
        "no second factor is enrolled for this admin; ask an admin to reset it (deno task admin reset-2fa)",
      );
    default: {
      const left = attempt.triesLeft ?? 0;
      throw new AppError(
        "otp_invalid",
        `wrong code; ${left} ${left === 1 ? "try" : "tries"} left before the second factor locks ` +
          `for ${OTP_LOCK_MS / 60_000} minutes; check your authenticator app's clock`,
        { extra: { tries_left: left } },
      );
    }
  }
}

/**
 * Commits a factor change. Most accepted codes write no audit entry (the
 * operation they unlock is audited), so they commit directly without queueing
 * on the audit chain; anything with entries goes through `audit.commit`, which
 * runs `build` again from scratch.
 */
async function commitFactorChange<V>(
  d: SecondFactorDeps,
  ctx: CallContext,
  build: (op: Deno.AtomicOperation) => Promise<{ value: V; audit: AuditInput[] }>,
): Promise<V> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const op = d.kv.atomic();
    const built = await build(op);
    if (built.audit.length > 0) return await d.audit.commit(ctx, build);
    if ((await op.commit()).ok) return built.value;
  }
  throw new AppError("conflict", "the second factor changed at the same time; try again");
}
