/**
 * Single-use enrollment codes: how a person receives their own credentials
 * (README, "Accounts and enrollment").
 *
 *   ["enrollments", sha256(code)] -> Enrollment
 *
 * A code is written when issued, in the commit that changes its account if
 * one does, and rewritten only when used or revoked: while it can be
 * redeemed, its versionstamp is its issuing commit's, which redeeming
 * compares with the account's (services/identity/enrollment.ts).
 */
import { keys } from "./keys.ts";

/**
 * `account`: a new account's token, TOTP secret and recovery codes;
 * `token`: a new token only (redeemed with the account's own TOTP code);
 * `second_factor`: a new TOTP secret and recovery codes (redeemed with the account's own token).
 */
export type EnrollmentPurpose = "account" | "token" | "second_factor";

export interface Enrollment {
  code_hash: string;
  purpose: EnrollmentPurpose;
  /** the account it enrolls; null until the approval request that creates it has run */
  admin_id: string | null;
  /** the two-person request the code waits for, if any */
  approval_id: string | null;
  issued_by: string;
  issued_at: string;
  /** ISO 8601: refused after this */
  expires_at: string;
  used_at: string | null;
  used_from: string | null;
  /** why it stopped working before it was used (its issuer or account was disabled) */
  revoked_reason?: string;
}

export function getEnrollment(
  kv: Deno.Kv,
  codeHash: string,
): Promise<Deno.KvEntryMaybe<Enrollment>> {
  return kv.get<Enrollment>(keys.enrollment(codeHash));
}

export function addCreateEnrollment(op: Deno.AtomicOperation, e: Enrollment, ttlMs: number): void {
  op.check({ key: keys.enrollment(e.code_hash), versionstamp: null })
    .set(keys.enrollment(e.code_hash), e, { expireIn: ttlMs + 24 * 3600_000 });
}

export function addUseEnrollment(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<Enrollment>,
  next: Enrollment,
): void {
  op.check(entry).set(keys.enrollment(next.code_hash), next, { expireIn: 24 * 3600_000 });
}

/** Unused codes issued by `adminId` or enrolling it (of the first `scan` codes stored). */
export async function openEnrollmentsOf(
  kv: Deno.Kv,
  adminId: string,
  scan: number,
): Promise<Deno.KvEntry<Enrollment>[]> {
  const out: Deno.KvEntry<Enrollment>[] = [];
  for await (
    const e of kv.list<Enrollment>({ prefix: keys.enrollmentsPrefix() }, { limit: scan })
  ) {
    const v = e.value;
    if (v.used_at === null && (v.issued_by === adminId || v.admin_id === adminId)) out.push(e);
  }
  return out;
}

/** Rewrites a code read as `entry` (its versionstamp checked), e.g. revoked. */
export function addUpdateEnrollment(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<Enrollment>,
  next: Enrollment,
): void {
  op.check(entry).set(keys.enrollment(next.code_hash), next, { expireIn: 24 * 3600_000 });
}
