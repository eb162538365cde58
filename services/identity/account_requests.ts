/**
 * Requests about an existing account that a second admin approves: a role
 * grant, a re-enabling, a token rotation, a second-factor reset. One of each
 * kind waits for an account at a time (README, "Two-person rules"): the
 * account's index row for the kind is checked in the commit that adds the
 * request, so of a burst exactly one is added. The same request sent again by
 * its requester (a second click) answers that one, nothing written; anyone
 * else's, or another request, is 409 naming who asked and when.
 * Each request names the account as it was (`target_version`): any later
 * change voids it at approval (services/approvals/rules.ts).
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import type { ApprovalRequest, ApprovalService } from "../approvals/mod.ts";
import type { AdminRecord } from "../../domain/admin.ts";
import { type ApprovalKind, sameRequestAgain, waitingRequestWords } from "../../domain/approval.ts";
import type { AuditInput } from "../audit/mod.ts";
import { addAccountRequest, getAccountRequest, getApproval } from "../../kv/approvals.ts";
import { type IdentityDeps, loadAdmin } from "./accounts.ts";
import { auditRefused } from "./refusals.ts";
import { getSecondFactor } from "../../kv/identity_factors.ts";
import { factorState, lastFactorRefusal } from "./factor_state.ts";

const target = (id: string) => ({ type: "admin", id });

/** Kept an hour past its request's expiry; the request's own `expires_at` is what counts. */
const INDEX_MARGIN_MS = 3600_000;

/** What a request about an account says: its summary, and the action in words for a 409. */
export interface AccountRequestWords {
  summary: string;
  waiting: string;
}

/**
 * Adds to `op` a pending request of `kind` about the account read as `entry`,
 * unless one waits already (409 naming it); returns it with its audit entry.
 */
export async function addRequestOnce(
  d: IdentityDeps,
  approvals: ApprovalService,
  ctx: CallContext,
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<AdminRecord>,
  kind: ApprovalKind,
  payload: Record<string, unknown>,
  what: AccountRequestWords,
): Promise<{ value: ApprovalRequest; audit: AuditInput[] }> {
  const admin = entry.value;
  const asked = { admin_id: admin.id, ...payload, target_version: entry.versionstamp };
  const index = await getAccountRequest(d.kv, admin.id, kind);
  const earlier = index.value ? (await getApproval(d.kv, index.value)).value : null;
  if (earlier?.status === "pending" && Date.parse(earlier.expires_at) > d.clock.now()) {
    // the same request sent again by its requester (a second click): answered, nothing written
    if (sameRequestAgain(earlier, ctx, kind, asked)) return { value: earlier, audit: [] };
    throw new AppError(
      "conflict",
      `${what.waiting} for ${admin.email} already waits for a second admin ` +
        `(${waitingRequestWords(earlier, ctx)}); approve or reject it first`,
      { extra: { approval_id: earlier.id } },
    );
  }
  const { request, audit } = approvals.addRequest(op, kind, asked, ctx, {
    summary: what.summary,
    target: target(admin.id),
  });
  const ttl = Date.parse(request.expires_at) - d.clock.now() + INDEX_MARGIN_MS;
  addAccountRequest(op, index, admin.id, kind, request.id, ttl);
  // the request's entry targets it (`apr_…`); its twin puts it in the account's history
  return { value: request, audit: approvals.entriesAbout(request, audit) };
}

function requestOnce(
  d: IdentityDeps,
  approvals: ApprovalService,
  ctx: CallContext,
  entry: Deno.KvEntry<AdminRecord>,
  kind: ApprovalKind,
  payload: Record<string, unknown>,
  what: AccountRequestWords,
): Promise<ApprovalRequest> {
  return d.audit.commit(
    ctx,
    (op) => addRequestOnce(d, approvals, ctx, op, entry, kind, payload, what),
  );
}

/** `PATCH /api/admin/users/{id}` with a role that can approve: a pending grant. */
export function requestRoleGrant(
  d: IdentityDeps,
  approvals: ApprovalService,
  ctx: CallContext,
  entry: Deno.KvEntry<AdminRecord>,
  role: AdminRecord["role"],
): Promise<ApprovalRequest> {
  const admin = entry.value;
  return requestOnce(d, approvals, ctx, entry, "user.role_grant", { from_role: admin.role, role }, {
    summary: `grant ${role} to ${admin.email} (now ${admin.role})`,
    waiting: "a role grant",
  });
}

/** `PATCH /api/admin/users/{id}` `status: active` for a role that can approve. */
export function requestReactivation(
  d: IdentityDeps,
  approvals: ApprovalService,
  ctx: CallContext,
  entry: Deno.KvEntry<AdminRecord>,
): Promise<ApprovalRequest> {
  const admin = entry.value;
  return requestOnce(d, approvals, ctx, entry, "user.reactivate", { role: admin.role }, {
    summary: `re-enable ${admin.role} ${admin.email}`,
    waiting: "a re-enabling",
  });
}

/** `POST /api/admin/users/{id}/rotate-token|reset-2fa`: a request a third person approves. */
export async function requestCredentialReset(
  d: IdentityDeps,
  approvals: ApprovalService,
  ctx: CallContext,
  id: string,
  what: "token" | "second_factor",
): Promise<ApprovalRequest> {
  if (ctx.actor.id === id) {
    // refused, and audited as every refused attempt is (README, "Two-person rules")
    await d.audit.record(ctx, {
      action: what === "token" ? "token.rotate" : "totp.reset",
      target: target(id),
      result: "denied",
      reason: `self-change refused: a request about your own ${
        what === "token" ? "token" : "second factor"
      } is approved by nobody`,
    });
    throw new AppError(
      "forbidden",
      what === "token"
        ? "rotate your own token with POST /api/admin/me/rotate-token"
        : "you cannot reset your own second factor; ask another admin (or use a recovery code)",
    );
  }
  const entry = await loadAdmin(d, id);
  const email = entry.value.email;
  try {
    // never a request whose approval would leave the account with neither factor (the factor
    // is read after the account: a change in between moves the account, voiding the request)
    const factor = await getSecondFactor(d.kv, id);
    const last = lastFactorRefusal(await factorState(d.kv, entry, factor, d.clock.now()), what);
    if (last) throw last;
    return await requestOnce(
      d,
      approvals,
      ctx,
      entry,
      what === "token" ? "user.rotate_token" : "user.reset_2fa",
      {},
      what === "token"
        ? { summary: `rotate the token of ${email}`, waiting: "a token rotation" }
        : { summary: `reset the second factor of ${email}`, waiting: "a second-factor reset" },
    );
  } catch (error) {
    // one already waits, or it would leave no factor (409): refused, and audited as above
    await auditRefused(d, ctx, what === "token" ? "token.rotate" : "totp.reset", target(id), error);
    throw error;
  }
}
