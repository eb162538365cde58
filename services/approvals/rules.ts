/**
 * Who may approve: the approver's permission, never the requester or the
 * admin acted on, never an account linked to either (created, approved or
 * enrolled one another, either direction), and only what was asked for
 * (`approval_hash`). Each refusal says why; the caller audits it.
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { sha256Hex } from "../../core/encoding.ts";
import { can, type Permission } from "../../domain/permissions.ts";
import { wrongApprovalHash } from "../../domain/approval_hash_refusal.ts";
import {
  APPROVAL_POLICY,
  type ApprovalRequest,
  approverDenial,
  isApprovalKind,
} from "../../domain/approval.ts";
import { adminHandlers, linkedAmong } from "../../kv/approvals.ts";
import { getAdmin, getAdmins } from "../../kv/admins.ts";

/** JSON with sorted keys: the same content always hashes the same. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return `{${
      Object.keys(obj).sort().filter((k) => obj[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(value ?? null);
}

/** What an approver reads of a request and approves. */
type ApprovedRequest = Pick<
  ApprovalRequest,
  "id" | "kind" | "payload" | "target" | "requested_by" | "summary"
>;

/**
 * What an approval approves: the request itself (its id) and what the approver reads of it
 * (kind, payload, target, requester, summary), so one request's hash approves no other, however
 * alike (README, "Two-person rules").
 */
export function approvalHashOf(r: ApprovedRequest): string {
  return sha256Hex(stableJson({
    request: r.id,
    kind: r.kind,
    payload: r.payload,
    target: r.target,
    requested_by: r.requested_by,
    summary: r.summary,
  }));
}

/**
 * Whether a request is still what its stored `approval_hash` was made of: in the form above, or
 * the earlier one (kind, payload and target only) that requests asked before it carry.
 */
function matchesApprovalHash(r: ApprovedRequest & { approval_hash: string }): boolean {
  return r.approval_hash === approvalHashOf(r) ||
    r.approval_hash === sha256Hex(stableJson([r.kind, r.payload, r.target]));
}

export interface Refusal {
  error: AppError;
  reason: string;
}

/**
 * Which of `others` are linked to `adminId`: the recorded links, whoever
 * created it and whoever it created (accounts made before links were
 * recorded keep their `created_by`), and accounts whose enrollment went
 * through the same person.
 */
export async function linksOf(
  kv: Deno.Kv,
  adminId: string,
  others: string[],
): Promise<Set<string>> {
  const linked = await linkedAmong(kv, adminId, others);
  const records = await getAdmins(kv, [adminId, ...others]);
  for (const r of records) {
    if (r.id === adminId && others.includes(r.created_by)) linked.add(r.created_by);
    else if (r.created_by === adminId) linked.add(r.id);
  }
  // accounts whose enrollment codes went through the same person: that person could hold both
  const mine = await adminHandlers(kv, adminId);
  for (const other of others) {
    const theirs = await adminHandlers(kv, other);
    if (theirs.has(adminId) || mine.has(other) || [...theirs].some((h) => mine.has(h))) {
      linked.add(other);
    }
  }
  return linked;
}

/** The self / linked-account rule alone (refunds use it for their own approvals). */
export async function linkRefusal(
  kv: Deno.Kv,
  request: { requested_by: string; target: { type: string; id: string } | null },
  ctx: CallContext,
): Promise<Refusal | null> {
  const approver = ctx.actor.id;
  const others = [request.requested_by];
  if (request.target?.type === "admin") others.push(request.target.id);
  const denial = approverDenial(request, approver, await linksOf(kv, approver, others));
  if (!denial) return null;
  return {
    reason: denial.reason,
    error: new AppError(
      "self_approval_forbidden",
      denial.code === "linked_account"
        ? `${denial.reason}; someone not linked to them must approve`
        : `${denial.reason}; a different person must approve`,
      { extra: { rule: denial.code } },
    ),
  };
}

/** What a requester must still be allowed to do for their request to stand (`needs`). */
export interface RequesterNeeds {
  permission: Permission;
  /** the permission in words: "ask for refunds" */
  what: string;
}

/** What the requester of a `kind` must still hold (the policy table's `requester`). */
export function requesterNeeds(kind: string): RequesterNeeds | undefined {
  return isApprovalKind(kind) ? APPROVAL_POLICY[kind].requester : undefined;
}

/**
 * Why a request is void because of its requester, or null: a disabled
 * admin's requests die with the account, and so does whatever they asked for
 * before a disable even once they are active again (`disabled_at` at or after
 * the request's `created_at`). With `needs`, so do the requests of one who no
 * longer holds that permission (demoted since). A system requester has no record.
 */
export function requesterVoid(
  request: { requested_by: string; created_at: string },
  requester:
    | { status: string; role: string; disabled_at?: string; demoted_at?: string }
    | null,
  needs?: RequesterNeeds,
): string | null {
  if (!requester) return null;
  if (requester.status !== "active") return `requester ${request.requested_by} was disabled`;
  const disabled = requester.disabled_at ? Date.parse(requester.disabled_at) : NaN;
  if (disabled >= Date.parse(request.created_at)) {
    return `requester ${request.requested_by} was disabled (at ${requester.disabled_at}) after ` +
      "asking";
  }
  if (needs && !can(requester.role, needs.permission)) {
    return `requester ${request.requested_by} is now ${requester.role} and may no longer ` +
      `${needs.what} (${needs.permission})`;
  }
  // demoted and promoted back, the request does not come back with the role
  const demoted = requester.demoted_at ? Date.parse(requester.demoted_at) : NaN;
  if (demoted >= Date.parse(request.created_at)) {
    return `requester ${request.requested_by} was demoted (at ${requester.demoted_at}) after ` +
      "asking";
  }
  return null;
}

/**
 * The refusal (409) of a request void because of its requester (`reason` from
 * `requesterVoid`), naming `what`; `extra` says why (`requester_disabled` or
 * `requester_demoted`).
 */
export function requesterVoidError(what: string, reason: string): AppError {
  const demoted = / may no longer | was demoted /.test(reason);
  return new AppError(
    "conflict",
    `${what} cannot be approved: ${reason}; ` +
      (demoted
        ? "the requests of an admin demoted since are void, even once promoted back: they may ask again"
        : "a disabled admin's requests are void"),
    { extra: demoted ? { requester_demoted: true } : { requester_disabled: true } },
  );
}

/**
 * Why a request about an admin is void because that admin changed since it
 * was asked for (status, role or credentials: any write of the record moves
 * its versionstamp, captured as `payload.target_version`), or null.
 */
export function targetVoid(
  request: Pick<ApprovalRequest, "payload" | "target">,
  target: Deno.KvEntryMaybe<unknown>,
): string | null {
  const captured = request.payload.target_version;
  if (request.target?.type !== "admin" || typeof captured !== "string") return null;
  if (target.versionstamp === captured) return null;
  return `admin ${request.target.id} changed since the request was made (status, role or ` +
    "credentials); ask again";
}

/** `requesterVoid` with the requester read from KV, as a refusal (409) naming `what`. */
export async function requesterRefusal(
  kv: Deno.Kv,
  request: { requested_by: string; created_at: string },
  what: string,
  needs?: RequesterNeeds,
): Promise<Refusal | null> {
  const requester = (await getAdmin(kv, request.requested_by)).value;
  const reason = requesterVoid(request, requester, needs);
  if (!reason) return null;
  return { reason, error: requesterVoidError(what, reason) };
}

/** Every check an approver passes before a request is claimed. */
export async function checkApprover(
  kv: Deno.Kv,
  request: ApprovalRequest,
  ctx: CallContext,
  body: { approval_hash?: string },
): Promise<Refusal | null> {
  const policy = isApprovalKind(request.kind) ? APPROVAL_POLICY[request.kind] : null;
  const role = ctx.actor.role ?? "";
  if (!policy || !can(role, policy.approverPermission)) {
    const reason = `role ${role} cannot approve ${request.kind}`;
    return {
      reason,
      error: new AppError(
        "forbidden",
        `${reason}: it needs the permission ${policy?.approverPermission ?? "(none)"}`,
      ),
    };
  }
  const linked = await linkRefusal(kv, request, ctx);
  if (linked) return linked;
  // the stored hash is the one the approver read (`approval_hash`)
  const expected = request.approval_hash;
  if (!matchesApprovalHash(request)) {
    const reason = "stale approval_hash: the request is not what was shown";
    return {
      reason,
      error: new AppError(
        "conflict",
        `approval request ${request.id} differs from what approval_hash names; read it again ` +
          "and approve what it says now; nothing was approved",
      ),
    };
  }
  if (body.approval_hash && body.approval_hash !== expected) {
    // the request is as it was asked for; the hash sent is another one (mistyped, copied from
    // another request): said so on the field, never with the request's hash
    return {
      reason: "wrong approval_hash: not the request's hash (the request is unchanged)",
      error: wrongApprovalHash({
        sent: body.approval_hash,
        subject: `approval request ${request.id}`,
        readPath: `/api/admin/approvals/${request.id}`,
        field: "approval_hash",
      }),
    };
  }
  return null;
}
