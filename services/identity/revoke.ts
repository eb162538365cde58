/**
 * Disabling an admin voids what they started (README, "Accounts and
 * enrollment"): in the disabling commit, their pending two-person requests
 * expire and unused enrollment codes they issued (or that enroll them) stop
 * working. What this does not reach (past the scan limits below) is refused
 * when decided (services/approvals/decide.ts) or redeemed (enrollment.ts).
 */
import type { AuditInput } from "../audit/mod.ts";
import { addUpdateApproval, pendingApprovalsOf } from "../../kv/approvals.ts";
import { addUpdateEnrollment, openEnrollmentsOf } from "../../kv/enrollments.ts";
import type { IdentityDeps } from "./accounts.ts";

/** pending requests and stored codes looked at in one disabling commit */
const SCAN = 500;
/**
 * At most this many of each are changed in that commit: each change checks
 * the entry it read, and KV takes at most 100 checks a commit, the disable's
 * own (the account, the removal rules, the audit head) included.
 */
const REQUESTS_PER_COMMIT = 25;
const CODES_PER_COMMIT = 40;

export interface Voided {
  audit: AuditInput[];
  expired_requests: string[];
  revoked_codes: number;
}

/** Adds to `op` the expiry of `adminId`'s pending requests and the revocation of their codes. */
export async function addVoidStartedBy(
  d: IdentityDeps,
  op: Deno.AtomicOperation,
  adminId: string,
): Promise<Voided> {
  const reason = `requester ${adminId} was disabled`;
  const iso = new Date(d.clock.now()).toISOString();
  const requests = (await pendingApprovalsOf(d.kv, adminId, SCAN)).slice(0, REQUESTS_PER_COMMIT);
  const audit: AuditInput[] = [];
  for (const entry of requests) {
    const next = { ...entry.value, status: "expired" as const, error: reason };
    addUpdateApproval(op, entry, next);
    const expired: AuditInput = {
      action: "approval.expire",
      target: { type: "approval", id: entry.value.id },
      result: "ok",
      reason,
      after: { kind: entry.value.kind, requested_by: adminId },
    };
    // on what the request acts on too (a rule's, an account's, a dispute's history)
    audit.push(...(d.entriesAbout?.(next, expired) ?? [expired]));
  }
  const codes = (await openEnrollmentsOf(d.kv, adminId, SCAN))
    .filter((e) => Date.parse(e.value.expires_at) > d.clock.now())
    .slice(0, CODES_PER_COMMIT);
  for (const entry of codes) {
    addUpdateEnrollment(op, entry, {
      ...entry.value,
      expires_at: iso,
      revoked_reason: `admin ${adminId} was disabled`,
    });
  }
  return {
    audit,
    expired_requests: requests.map((r) => r.value.id),
    revoked_codes: codes.length,
  };
}
