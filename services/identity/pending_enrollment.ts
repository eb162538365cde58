/**
 * An admin with no second factor: after an approved reset (README, "Accounts and enrollment":
 * `POST /api/admin/users/{id}/reset-2fa`) its approver holds an enrollment code for a new one,
 * which the person redeems with their current token. What a code check tells them depends on
 * whether such a code is waiting: redeem it, or have the factor reset.
 */
import { AppError } from "../../core/errors.ts";
import type { AdminRecord } from "../../domain/admin.ts";
import { getAdmin } from "../../kv/admins.ts";
import { type Enrollment, openEnrollmentsOf } from "../../kv/enrollments.ts";

/** stored codes looked at (as when disabling an admin voids its codes) */
const SCAN = 500;

/**
 * Whether the account was written by a commit later than the one that issued
 * the code, told by versionstamps, not times: a change in the same
 * millisecond is still later. A commit that changes the account and issues its
 * code writes both with one versionstamp; a live code is never rewritten (only
 * using or revoking it does), so its versionstamp is its issuing commit's.
 * Such a code no longer opens the account.
 */
export function changedAfterIssue(
  account: Deno.KvEntry<AdminRecord>,
  code: Deno.KvEntry<Enrollment>,
): boolean {
  return account.versionstamp > code.versionstamp;
}

export interface PendingFactorCode {
  purpose: Enrollment["purpose"];
  /** who was handed the code (the approver of the change) */
  issued_by: string;
  expires_at: string;
}

/**
 * The newest code that would give `adminId` a new second factor if redeemed now: unused, not
 * expired or revoked, issued since the account last changed, by an issuer still active. Null
 * when there is none (of the first `SCAN` codes stored).
 */
export async function pendingFactorCode(
  kv: Deno.Kv,
  adminId: string,
  now: number,
): Promise<PendingFactorCode | null> {
  const account = await getAdmin(kv, adminId);
  if (!account.value || account.value.status !== "active") return null;
  const codes = (await openEnrollmentsOf(kv, adminId, SCAN))
    .filter((e) =>
      e.value.admin_id === adminId && e.value.purpose !== "token" &&
      Date.parse(e.value.expires_at) > now &&
      !changedAfterIssue(account as Deno.KvEntry<AdminRecord>, e)
    )
    .sort((x, y) => y.value.issued_at.localeCompare(x.value.issued_at));
  for (const { value } of codes) {
    const issuer = await getAdmin(kv, value.issued_by);
    if (issuer.value && issuer.value.status !== "active") continue; // its codes died with it
    return { purpose: value.purpose, issued_by: value.issued_by, expires_at: value.expires_at };
  }
  return null;
}

/** What an admin with no second factor hears when a code is asked of them (step-up, X-OTP-Code). */
export async function notEnrolled(kv: Deno.Kv, adminId: string, now: number): Promise<AppError> {
  const pending = await pendingFactorCode(kv, adminId, now);
  if (pending) {
    const proof = pending.purpose === "second_factor"
      ? "with your current token (Authorization: Bearer …), for a new TOTP secret and recovery codes"
      : "for a new token, TOTP secret and recovery codes";
    return new AppError(
      "otp_invalid",
      "no second factor is enrolled for this admin yet: an enrollment code for a new one is " +
        `waiting, handed to ${pending.issued_by} when they approved the change. Ask them for ` +
        `it and redeem it at POST /api/admin/enroll {"code": "enr_…"} ${proof}, before ` +
        pending.expires_at,
    );
  }
  return new AppError(
    "otp_invalid",
    "no second factor is enrolled for this admin, and no enrollment code for one is waiting: " +
      `ask an admin to reset it (POST /api/admin/users/${adminId}/reset-2fa, approved by a ` +
      "second admin, who is handed an enrollment code you redeem at POST /api/admin/enroll with " +
      "your current token). Break-glass, without a second admin: whoever holds the server's KV " +
      `runs deno task admin reset-2fa --id ${adminId}`,
  );
}
