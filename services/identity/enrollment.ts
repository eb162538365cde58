/**
 * Accounts through the API: no answer ever carries another person's
 * credentials. A new account (or new credentials for one) comes with a
 * single-use enrollment code that its person redeems at `POST
 * /api/admin/enroll` for their own token and second factor (README,
 * "Accounts and enrollment").
 */
import type { CallContext, RequestMeta } from "../../domain/actor.ts";
import { b64url } from "../../core/encoding.ts";
import type { Role } from "../../domain/permissions.ts";
import type { AuditInput } from "../audit/mod.ts";
import { hashToken, newApiToken } from "./crypto.ts";
import { enrol } from "./second_factor.ts";
import { totpUri } from "./totp.ts";
import { addUpdateAdmin, getAdmin } from "../../kv/admins.ts";
import { type AdminRecord, withIssuedToken } from "../../domain/admin.ts";
import {
  addDeleteSecondFactor,
  addSetSecondFactor,
  getSecondFactor,
} from "../../kv/identity_factors.ts";
import {
  addCreateEnrollment,
  addUseEnrollment,
  type Enrollment,
  type EnrollmentPurpose,
  getEnrollment,
} from "../../kv/enrollments.ts";
import { getApproval } from "../../kv/approvals.ts";
import { addAdminHandler, addAdminLink } from "../../kv/approvals.ts";
import { type AdminView, adminView, type IdentityDeps } from "./accounts.ts";
import {
  invalid,
  redeemedAlready,
  redeemedMeanwhile,
  unusable,
  wrongTokenProof,
} from "./enrollment_refusals.ts";
import { afterChange } from "./pending_enrollment.ts";
import { refusedCode } from "./first_admin_refusals.ts";
import { changedAfterIssue } from "./factor_state.ts";
import { FIRST_ADMIN_CODE_FORMAT } from "../../domain/first_admin.ts";

/** How long a code may wait to be redeemed (a pending account's code also waits for its approval). */
export const ENROLLMENT_TTL_MS = 24 * 3600_000;
export const ENROLLMENT_CODE_FORMAT = /^enr_[A-Za-z0-9_-]{32}$/;

export interface IssuedCode {
  enrollment_code: string;
  enrollment_expires_at: string;
}

/** A fresh code, and its record (to add to the caller's commit). */
export async function issueCode(
  d: IdentityDeps,
  ctx: CallContext,
  purpose: EnrollmentPurpose,
  link: { admin_id: string | null; approval_id: string | null },
  /** the time of the commit it joins, when that commit also stamps the account */
  at: number = d.clock.now(),
): Promise<{ code: IssuedCode; record: Enrollment }> {
  const code = `enr_${b64url(crypto.getRandomValues(new Uint8Array(24)))}`;
  return await codeOf(code, ctx, purpose, link, at);
}

/** `code` (a fresh one, or the first admin's given one) as issued by `ctx` at `at`. */
export async function codeOf(
  code: string,
  ctx: CallContext,
  purpose: EnrollmentPurpose,
  link: { admin_id: string | null; approval_id: string | null },
  at: number,
): Promise<{ code: IssuedCode; record: Enrollment }> {
  const expires = new Date(at + ENROLLMENT_TTL_MS).toISOString();
  return {
    code: { enrollment_code: code, enrollment_expires_at: expires },
    record: {
      code_hash: await hashToken(code),
      purpose,
      ...link,
      issued_by: ctx.actor.id,
      issued_at: new Date(at).toISOString(),
      expires_at: expires,
      used_at: null,
      used_from: null,
    },
  };
}

/**
 * Stores the code; its issuer, an admin, is recorded as a handler of the
 * account: two accounts whose codes went through the same person count as
 * linked (services/approvals/rules.ts), as that person could hold both.
 */
export function addIssuedCode(op: Deno.AtomicOperation, record: Enrollment): void {
  addCreateEnrollment(op, record, ENROLLMENT_TTL_MS);
  if (record.admin_id && record.issued_by.startsWith("adm_")) {
    addAdminHandler(op, record.admin_id, record.issued_by, record.issued_at);
  }
}

/** A token nobody knows: an account exists before its person has enrolled. */
/**
 * An approved change that hands an account over (re-enabling, a role that can
 * approve): its second factor goes, it is linked to the requester (`why`) and
 * the approver, and the approver gets a one-time enrollment code for new
 * credentials. The caller's update revokes the token (`revokedToken`).
 */
export async function addHandover(
  d: IdentityDeps,
  op: Deno.AtomicOperation,
  ctx: CallContext,
  id: string,
  request: { id: string; requested_by: string },
  why: string,
  at: string,
): Promise<IssuedCode> {
  const factor = await getSecondFactor(d.kv, id);
  if (factor.value) addDeleteSecondFactor(op, factor);
  addAdminLink(op, id, request.requested_by, { why, at });
  addAdminLink(op, id, ctx.actor.id, { why: "approved", at });
  const issued = await issueCode(
    d,
    ctx,
    "account",
    { admin_id: id, approval_id: request.id },
    Date.parse(at),
  );
  addIssuedCode(op, issued.record);
  return issued.code;
}

export async function unusableTokenHash(): Promise<string> {
  return await hashToken(`unissued:${newApiToken()}`);
}

/** An account's token revoked at `iso` with none issued in its place (its person enrolls one). */
export async function revokedToken(
  iso: string,
): Promise<Pick<AdminRecord, "token_hash" | "token_revoked_at">> {
  return { token_hash: await unusableTokenHash(), token_revoked_at: iso };
}

export interface Redeemed {
  admin: AdminView;
  token?: string;
  totp_secret?: string;
  otpauth_uri?: string;
  recovery_codes?: string[];
}

/**
 * The issuer's record, refused when they were disabled: a disabled admin's
 * codes die with the account (README, "Accounts and enrollment"). A system
 * issuer has no record.
 */
async function checkIssuer(
  d: IdentityDeps,
  e: Enrollment,
): Promise<Deno.KvEntryMaybe<AdminRecord>> {
  const issuer = await getAdmin(d.kv, e.issued_by);
  if (issuer.value && issuer.value.status !== "active") {
    throw invalid(
      `the admin who issued this code (${e.issued_by}) was disabled; ask another admin for a new one`,
    );
  }
  return issuer;
}

/** Which account a code enrolls, once whatever it waits for has happened. */
async function accountOf(d: IdentityDeps, e: Enrollment): Promise<string> {
  if (e.admin_id) return e.admin_id;
  const approval = e.approval_id ? (await getApproval(d.kv, e.approval_id)).value : null;
  if (!approval || approval.status === "pending" || approval.status === "approved") {
    throw invalid(
      "this enrollment code waits for a second admin's approval; try again once approved",
    );
  }
  const id = approval.status === "executed" ? approval.result?.admin_id : null;
  if (typeof id !== "string") {
    throw invalid(
      `the account request was ${approval.status}, so this code opens nothing; ask an admin ` +
        "to ask for the account again (POST /api/admin/users)",
    );
  }
  return id;
}

/**
 * `POST /api/admin/enroll`. `proof` is what a credential reset asks of the
 * person besides the code: their current TOTP code (new token) or their
 * current token's hash (new second factor).
 */
export async function redeem(
  d: IdentityDeps,
  code: string,
  meta: RequestMeta,
  proof: { verifyOtp(adminId: string): Promise<void>; tokenHash: string | null },
): Promise<Redeemed> {
  // the first admin's code is the operator's own (README, "Deploying to Deno Deploy")
  if (!ENROLLMENT_CODE_FORMAT.test(code) && !FIRST_ADMIN_CODE_FORMAT.test(code)) {
    throw unusable(null);
  }
  const codeHash = await hashToken(code);
  const first = await getEnrollment(d.kv, codeHash);
  const e = first.value;
  if (!e || e.used_at || Date.parse(e.expires_at) <= d.clock.now()) throw await refusedCode(d, e);
  await checkIssuer(d, e);
  const adminId = await accountOf(d, e);
  if (e.purpose === "token") {
    await proof.verifyOtp(adminId).catch(async (error) => {
      // the same code and TOTP code sent twice at once: the other request spent the TOTP
      // code on this very redemption, which is what to say, once its commit lands
      const now = await redeemedMeanwhile(d.kv, codeHash, error);
      throw now?.used_at ? redeemedAlready(now) : error;
    });
  }
  const token = e.purpose === "second_factor" ? null : newApiToken();
  const tokenHash = token ? await hashToken(token) : null;
  const factor = e.purpose === "token" ? null : await enrol(d, adminId);
  const ctx: CallContext = {
    actor: { type: "admin", id: adminId, role: null },
    request: meta,
    second_factor: false,
  };
  const admin = await d.audit.commit(ctx, async (op) => {
    const entry = await getEnrollment(d.kv, codeHash);
    const current = entry.value;
    if (!current || current.used_at || Date.parse(current.expires_at) <= d.clock.now()) {
      throw await refusedCode(d, current);
    }
    // a disable of the issuer committed meanwhile makes this commit fail and run again
    op.check(await checkIssuer(d, entry.value));
    const adminEntry = await getAdmin(d.kv, adminId);
    const before = adminEntry.value;
    if (!before || before.status !== "active") {
      throw invalid(
        "the account this code opens is disabled; ask an admin to re-enable it, which hands " +
          "over a new code",
      );
    }
    // A code speaks for the account as it was when issued: a role grant, a re-enabling or a
    // credential reset since then hands over a code of its own (README, "Accounts and enrollment").
    if (
      changedAfterIssue(adminEntry as Deno.KvEntry<AdminRecord>, entry as Deno.KvEntry<Enrollment>)
    ) {
      throw invalid(
        "the account changed after this code was issued (its role, status or credentials), so " +
          `it no longer opens it: ${await afterChange(d.kv, adminId, d.clock.now())}`,
      );
    }
    if (e.purpose === "second_factor" && proof.tokenHash !== before.token_hash) {
      throw await wrongTokenProof(d.kv, adminId, proof.tokenHash);
    }
    const iso = new Date(d.clock.now()).toISOString();
    addUseEnrollment(op, entry as Deno.KvEntry<Enrollment>, {
      ...entry.value,
      admin_id: adminId,
      used_at: iso,
      used_from: meta.ip,
    });
    const next: AdminRecord = {
      ...(tokenHash ? withIssuedToken(before, tokenHash, iso) : before),
      updated_at: iso,
    };
    addUpdateAdmin(op, adminEntry as Deno.KvEntry<AdminRecord>, next);
    if (factor) addSetSecondFactor(op, await getSecondFactor(d.kv, adminId), factor.record);
    addAdminLink(op, adminId, e.issued_by, { why: "enrolled", at: iso });
    const audit: AuditInput[] = [{
      action: "user.enroll",
      target: { type: "admin", id: adminId },
      result: "ok",
      after: { purpose: e.purpose, issued_by: e.issued_by, ip: meta.ip },
    }];
    return { value: next, audit };
  });
  return {
    admin: adminView(admin),
    ...(token ? { token } : {}),
    ...(factor
      ? {
        totp_secret: factor.totpSecret,
        otpauth_uri: totpUri(factor.totpSecret, admin.email),
        recovery_codes: factor.recoveryCodes,
      }
      : {}),
  };
}

/** Roles whose holders can approve something: created and granted by two people. */
export function approvingRole(role: Role): boolean {
  return role === "operator" || role === "admin";
}
