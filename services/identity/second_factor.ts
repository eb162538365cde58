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
import type { Logger } from "../../core/log.ts";
import type { AttemptedRequest, CallContext } from "../../domain/actor.ts";
import { type AuditInput, type AuditService } from "../audit/mod.ts";
import { AppError, type FieldError } from "../../core/errors.ts";
import { type IdentityKeys, newRecoveryCodes, RECOVERY_CODE_FORMAT } from "./crypto.ts";
import { b64url } from "../../core/encoding.ts";
import { matchTotpSteps, newTotpSecret } from "./totp.ts";
import {
  type CodeMatch,
  isLocked,
  judgeCode,
  OTP_FAILURE_WINDOW_MS,
  OTP_LOCK_MS,
  OTP_MAX_FAILURES,
} from "./code_judgement.ts";
import {
  addSetSecondFactor,
  getSecondFactor,
  type SecondFactorRecord,
} from "../../kv/identity_factors.ts";
import { notEnrolled } from "./pending_enrollment.ts";

export { OTP_FAILURE_WINDOW_MS, OTP_LOCK_MS, OTP_MAX_FAILURES };

export interface SecondFactorDeps {
  kv: Deno.Kv;
  clock: Clock;
  keys: IdentityKeys;
  audit: AuditService;
  /** where a lockout is logged (a warning, as the address throttle's) */
  log: Logger;
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
  /** what a replayed code was */
  replayedKind?: "totp" | "recovery";
  /** this attempt's failure locked the factor (once per lockout, not per refusal while locked) */
  lockedNow?: boolean;
}

/** What a caller adds to the commit when the code is accepted (a step-up token). */
export type OnAccepted<T> = (
  op: Deno.AtomicOperation,
  factor: SecondFactorRecord,
) => Promise<{ value: T; audit: AuditInput[] }>;

/**
 * The factor's entries, on the admin as ever, with what the request carrying
 * the code set out to do (`after.attempted`), so an auditor reading a refusal
 * sees which action it stopped (README "Second factor").
 */
export function naming(audit: AuditInput[], attempted?: AttemptedRequest): AuditInput[] {
  if (!attempted) return audit;
  return audit.map((a) => ({ ...a, after: { ...(a.after as object | undefined), attempted } }));
}

/**
 * Checks `code` (6-digit TOTP or `xxxx-xxxx` recovery code) for `ctx.actor`,
 * consumes it, and commits `onAccepted`'s mutations in the same atomic op.
 * `field` names the code in validation errors (`header.x-otp-code`, `body.code`);
 * `attempted` is the request the code came with, named in the factor's entries.
 */
export async function consumeCode<T>(
  d: SecondFactorDeps,
  ctx: CallContext,
  code: string,
  field: string,
  onAccepted?: OnAccepted<T>,
  attempted?: AttemptedRequest,
): Promise<T | null> {
  const adminId = ctx.actor.id;
  const kind = /^\d{6}$/.test(code) ? "totp" : RECOVERY_CODE_FORMAT.test(code) ? "recovery" : null;
  if (kind === null) {
    const message = "must be the 6-digit code from your authenticator app, or a recovery code " +
      "like abcd-2345";
    const [entry] = naming([{
      action: "auth.otp_failed",
      target: { type: "admin", id: adminId },
      result: "denied",
      reason: "malformed code",
    }], attempted);
    await d.audit.record(ctx, entry);
    const errors: FieldError[] = [{ path: field, message }];
    throw new AppError("otp_invalid", `${field} ${message}`, { errors });
  }
  // a match under any configured key (AUDIT_SIGNING_KEY rotation) is the code
  const recoveryHashes = kind === "recovery" ? await d.keys.recoveryCodeHashes(code) : null;

  const build = async (op: Deno.AtomicOperation) => {
    const now = d.clock.now();
    const entry = await getSecondFactor(d.kv, adminId);
    const rec = entry.value;
    const match = rec && !isLocked(rec, now)
      ? await matchCode(d, adminId, rec, code, recoveryHashes, now)
      : null;
    const judged = judgeCode(rec, now, match, adminId);
    const none = { lockedUntil: null, extra: null };
    switch (judged.outcome) {
      case "not_enrolled":
        return { value: { outcome: "not_enrolled", ...none } as Attempt<T>, audit: [] };
      case "ok": {
        addSetSecondFactor(op, entry, judged.write);
        const accepted = onAccepted
          ? await onAccepted(op, judged.write)
          : { value: null, audit: [] };
        return {
          value: { outcome: "ok", lockedUntil: null, extra: accepted.value } as Attempt<T>,
          audit: [...accepted.audit, ...naming(judged.audit, attempted)],
        };
      }
      case "replayed":
        op.check(entry); // decided on this read: a change in between runs it again
        return {
          value: { outcome: "replayed", ...none, replayedKind: judged.kind } as Attempt<T>,
          audit: naming(judged.audit, attempted),
        };
    }
    if (judged.write === null) {
      const value = { outcome: "locked", lockedUntil: judged.lockedUntil, extra: null };
      return { value: value as Attempt<T>, audit: [] };
    }
    addSetSecondFactor(op, entry, judged.write);
    return {
      value: {
        outcome: judged.outcome,
        lockedUntil: judged.lockedUntil,
        extra: null,
        triesLeft: judged.triesLeft,
        lockedNow: judged.outcome === "locked",
      } as Attempt<T>,
      audit: naming(judged.audit, attempted),
    };
  };

  const attempt = await commitFactorChange(d, ctx, build);
  if (attempt.outcome === "ok") return attempt.extra;
  if (attempt.lockedNow) {
    // the commit that locked it, once: a burst's other attempts re-read it locked
    d.log.warn("second factor locked", {
      admin_id: adminId,
      request_id: ctx.request?.request_id ?? null,
      locked_until: new Date(attempt.lockedUntil ?? 0).toISOString(),
      failures: OTP_MAX_FAILURES,
      window_minutes: OTP_FAILURE_WINDOW_MS / 60_000,
    });
  }
  // whether an enrollment code for a new factor is waiting decides what to say
  if (attempt.outcome === "not_enrolled") throw await notEnrolled(d.kv, adminId, d.clock.now());
  throw refusal(attempt, d.clock.now(), adminId);
}

/** What the caller hears when a code is not accepted. */
function refusal(attempt: Attempt<unknown>, now: number, adminId: string): AppError {
  switch (attempt.outcome) {
    case "replayed":
      return new AppError(
        "otp_replayed",
        attempt.replayedKind === "recovery"
          ? "this recovery code was already used (each works once; if you sent this request " +
            "twice, the first one used it); use another of yours"
          : "this code was already used (each code works once; if you sent this request twice, " +
            "the first one used it): wait for the next code from your authenticator app, or " +
            "take a step-up token (POST /api/admin/step-up) for a run of operations",
      );
    case "locked": {
      const retryAfter = Math.ceil(((attempt.lockedUntil ?? 0) - now) / 1000);
      return new AppError(
        "otp_locked",
        `too many wrong codes: the second factor is locked until ${
          new Date(attempt.lockedUntil ?? 0).toISOString()
        } (every code, recovery codes too); retry after then with the current code from your ` +
          "authenticator app. If you did not send those codes, someone holds your token (or an " +
          "enrollment code for your account): ask another admin to rotate it " +
          `(POST /api/admin/users/${adminId}/rotate-token)`,
        { retryAfter: Math.max(1, retryAfter) },
      );
    }
    default: {
      const left = attempt.triesLeft ?? 0;
      return new AppError(
        "otp_invalid",
        `wrong code; ${left} ${left === 1 ? "try" : "tries"} left before the second factor locks ` +
          `for ${OTP_LOCK_MS / 60_000} minutes; check your authenticator app's clock`,
        { extra: { tries_left: left } },
      );
    }
  }
}

/** What `code` matches in the factor: a TOTP time-step (under the sealed secret) or a recovery hash. */
async function matchCode(
  d: SecondFactorDeps,
  adminId: string,
  rec: SecondFactorRecord,
  code: string,
  recoveryHashes: string[] | null,
  now: number,
): Promise<CodeMatch> {
  if (recoveryHashes !== null) {
    const hash = recoveryHashes.find((h) => rec.recovery_code_hashes.includes(h));
    const used = hash === undefined &&
      recoveryHashes.some((h) => rec.used_recovery_code_hashes?.includes(h) ?? false);
    return { kind: "recovery", hash, used };
  }
  const secret = await d.keys.unseal(rec.sealed_totp_secret, adminId);
  return { kind: "totp", steps: matchTotpSteps(secret, code, now) };
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
