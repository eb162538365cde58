/**
 * An admin's credentials renewed at once, by the CLI (break-glass) or by the
 * admin for their own token: a new API token, or a new second factor.
 * Another admin's are renewed only through the approvals queue (README,
 * "Two-person rules").
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { hashToken, newApiToken } from "./crypto.ts";
import { enrol } from "./second_factor.ts";
import { totpUri } from "./totp.ts";
import { addTokenRotated, addUpdateAdmin } from "../../kv/admins.ts";
import { addSetSecondFactor, getSecondFactor } from "../../kv/identity_factors.ts";
import {
  type AdminView,
  adminView,
  disableAdvice,
  type IdentityDeps,
  loadAdmin,
} from "./accounts.ts";
import { breakGlass, isBreakGlassCli } from "./accounts.ts";
import { approvingRole } from "./enrollment.ts";
import { raiseOpsAlert } from "../ops_alerts.ts";
import type { AuditInput } from "../audit/mod.ts";
import { type AdminRecord, withIssuedToken } from "../../domain/admin.ts";

const target = (id: string) => ({ type: "admin", id });

/**
 * How long after an admin rotated their own token a request of theirs still carrying the old
 * one, sent to the rotation's route, is taken for a concurrent rotation that lost (a second
 * click, another tab) rather than an unknown token (README, "Accounts and enrollment").
 */
export const ROTATION_MOMENT_MS = 10_000;
/** how long the old token's rotation is kept (a request that arrived before it may be slow) */
const ROTATED_KEPT_MS = 10 * 60_000;

/**
 * The answer to a rotation of your own token that lost to another with the same token: the new
 * token was shown once, to the request that won, and is kept nowhere in the clear, so this one
 * is told rather than answered again (409, `rotated_at`).
 */
export function lostRotation(id: string, at: string): AppError {
  return new AppError(
    "conflict",
    `this token was rotated by another request of yours at ${at} (a second click or ` +
      "another tab): that answer carries the new token, shown once, and this token no " +
      "longer works. If that answer was lost, ask another admin to rotate your token " +
      `(POST /api/admin/users/${id}/rotate-token)`,
    { extra: { rotated_at: at } },
  );
}

/**
 * A new API token for `id`; the old one stops working in the same commit.
 * With `replaces`, only while that is still the account's token: a request
 * that lost a race with another rotation of the same token gets no token.
 */
export async function rotateToken(
  d: IdentityDeps,
  ctx: CallContext,
  id: string,
  replaces?: string,
): Promise<{ admin: AdminView; token: string }> {
  const token = newApiToken();
  const tokenHash = await hashToken(token);
  return await d.audit.commit(ctx, async (op) => {
    const entry = await loadAdmin(d, id);
    if (replaces !== undefined && entry.value.token_hash !== replaces) {
      throw lostRotation(id, entry.value.token_issued_at ?? entry.value.updated_at);
    }
    const iso = new Date(d.clock.now()).toISOString();
    const next = { ...withIssuedToken(entry.value, tokenHash, iso), updated_at: iso };
    addUpdateAdmin(op, entry, next);
    // its own rotation: a request with the old token moments later is told so (guard.ts)
    if (replaces !== undefined) {
      addTokenRotated(op, replaces, { admin_id: id, rotated_at: iso }, ROTATED_KEPT_MS);
    }
    const audit: AuditInput[] = [{
      action: "token.rotate",
      target: target(id),
      result: "ok",
      reason: breakGlass(ctx),
    }];
    const alert = addCredentialsAlert(d, ctx, op, next, "a new API token");
    if (alert) audit.push(alert);
    return { value: { admin: adminView(next), token }, audit };
  });
}

/**
 * A new TOTP secret and recovery codes; outstanding step-up tokens stop
 * working. The account's record is written in the same commit, as for any
 * credential change: an enrollment code issued before it no longer opens the
 * account, and a request naming the account as it was is void (README,
 * "Accounts and enrollment").
 */
export async function resetSecondFactor(
  d: IdentityDeps,
  ctx: CallContext,
  id: string,
): Promise<
  { admin: AdminView; totp_secret: string; otpauth_uri: string; recovery_codes: string[] }
> {
  const factor = await enrol(d, id);
  return await d.audit.commit(ctx, async (op) => {
    const entry = await loadAdmin(d, id);
    const admin = { ...entry.value, updated_at: new Date(d.clock.now()).toISOString() };
    addUpdateAdmin(op, entry, admin);
    const current = await getSecondFactor(d.kv, id);
    addSetSecondFactor(op, current, factor.record);
    const audit: AuditInput[] = [{
      action: "totp.reset",
      target: target(id),
      result: "ok",
      reason: (current.value ? "replaced the second factor" : "enrolled a second factor") +
        (breakGlass(ctx) ? `; ${breakGlass(ctx)}` : ""),
    }];
    const alert = addCredentialsAlert(d, ctx, op, admin, "a new second factor");
    if (alert) audit.push(alert);
    return {
      value: {
        admin: adminView(admin),
        totp_secret: factor.totpSecret,
        otpauth_uri: totpUri(factor.totpSecret, admin.email),
        recovery_codes: factor.recoveryCodes,
      },
      audit,
    };
  });
}

/**
 * The ops alert of new credentials the break-glass CLI, acting alone, gave an
 * account that can approve (`admin_credentials_reset`): whoever holds the
 * server's KV now holds that account (README, "Break-glass"). Null otherwise.
 */
function addCredentialsAlert(
  d: IdentityDeps,
  ctx: CallContext,
  op: Deno.AtomicOperation,
  admin: AdminRecord,
  what: string,
): AuditInput | null {
  if (!isBreakGlassCli(ctx) || !approvingRole(admin.role)) return null;
  return raiseOpsAlert(
    op,
    { newId: d.newId, log: d.log },
    {
      kind: "admin_credentials_reset",
      admin_id: admin.id,
      detail: `${admin.role} ${admin.id} was given ${what} by ${breakGlass(ctx)}; if that ` +
        "was not meant, find out who holds the server's KV (the audit log) and disable the " +
        `account ${disableAdvice(d, admin.id)}`,
    },
    admin.updated_at,
    target(admin.id),
  );
}
