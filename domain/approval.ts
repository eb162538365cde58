/**
 * Two-person requests: one shape for every action that needs a second
 * person, the one policy table that says which actions those are, and the
 * pure rule deciding whether someone may approve (README, "Two-person rules").
 */
import type { Permission } from "./permissions.ts";
import { byWhom, type CallContext } from "./actor.ts";
import { canonicalJson } from "../core/encoding.ts";

export type ApprovalStatus =
  | "pending"
  | "approved"
  | "executed"
  | "failed"
  | "rejected"
  | "expired";

export const APPROVAL_STATUSES = [
  "pending",
  "approved",
  "executed",
  "failed",
  "rejected",
  "expired",
] as const satisfies readonly ApprovalStatus[];

/** One two-person request as stored and shown (payload holds no secrets). */
export interface ApprovalRequest {
  /** `apr_…` */
  id: string;
  /** registered kind, e.g. `user.create`, `dispute.accept`, `fraud.rule_disable` */
  kind: string;
  status: ApprovalStatus;
  /** what the action will do once approved: kind-specific, shown to the approver */
  payload: Record<string, unknown>;
  /** one line for people: "create operator ops@example.com" */
  summary: string;
  /** what the action changes; an admin target may not approve it either */
  target: { type: string; id: string } | null;
  requested_by: string;
  /**
   * SHA-256 over the request's id, kind, payload, target, requester and summary: an approval
   * names what it approves (requests asked before it bound the id: kind, payload and target)
   */
  approval_hash: string;
  created_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
  /** what the execution returned (no secrets), or why it failed */
  result: Record<string, unknown> | null;
  error: string | null;
  /**
   * Only in the approver's answer, never stored: what they hand to the person
   * concerned (an enrollment code after a credential reset).
   */
  handover?: Record<string, unknown>;
}

/** What a kind declares: who may approve, and how long a request waits. */
export interface ApprovalPolicy {
  /** the permission an approver needs (besides not being the requester, target, or linked) */
  approverPermission: Permission;
  /**
   * what the requester must still hold when it is approved (a demoted requester's
   * requests are void), and that in words
   */
  requester: { permission: Permission; what: string };
  /** shown in the queue and the README table */
  description: string;
  /** default 24 h */
  ttlMs?: number;
}

export const DEFAULT_APPROVAL_TTL_MS = 24 * 3600_000;

const ACCOUNTS = { permission: "users.write", what: "manage accounts" } as const;
const FRAUD_RULES = { permission: "fraud.rules.write", what: "change fraud rules" } as const;

/**
 * The policy table: every action that needs a second person. Kinds register
 * their executor against these names (a kind not in this table cannot be
 * registered, so the table and the code cannot drift).
 */
export const APPROVAL_POLICY = {
  "refund.approve": {
    requester: { permission: "refunds.create", what: "ask for refunds" },
    approverPermission: "refunds.approve",
    description: "a refund at or above REFUND_APPROVAL_THRESHOLD (counting the same operator's " +
      "refunds on that payment, customer or card in 24 h), or beyond the operator's daily cap",
  },
  "user.create": {
    requester: ACCOUNTS,
    approverPermission: "users.write",
    description: "creating an account that can approve (operator, admin); the approver hands " +
      "over its enrollment code",
  },
  "user.role_grant": {
    requester: ACCOUNTS,
    approverPermission: "users.write",
    description: "granting a role that can approve (operator, admin); its credentials are " +
      "renewed through the approver",
  },
  "user.reactivate": {
    requester: ACCOUNTS,
    approverPermission: "users.write",
    description: "re-enabling a disabled account that can approve (operator, admin), that its " +
      "person enrolled, or whose code the requester never held; it comes back with new " +
      "credentials only, handed over by the approver",
  },
  "user.rotate_token": {
    requester: ACCOUNTS,
    approverPermission: "users.write",
    description: "rotating another admin's API token (a third person approves)",
  },
  "user.reset_2fa": {
    requester: ACCOUNTS,
    approverPermission: "users.write",
    description: "resetting another admin's second factor (a third person approves)",
  },
  "user.disable": {
    requester: ACCOUNTS,
    approverPermission: "users.write",
    description: "disabling an admin when the requester (or an account linked to them) " +
      "already disabled or demoted an admin alone in the last 24 h",
  },
  "user.demote": {
    requester: ACCOUNTS,
    approverPermission: "users.write",
    description: "demoting an admin to a role that cannot manage accounts when the requester " +
      "(or an account linked to them) already disabled or demoted an admin alone in the last 24 h",
  },
  "dispute.accept": {
    requester: { permission: "disputes.accept", what: "accept disputes" },
    approverPermission: "disputes.accept",
    description: "accepting a dispute at or above REFUND_APPROVAL_THRESHOLD (with the " +
      "requester's accepts of that customer's or card's disputes in 24 h), past the daily cap, " +
      "or before its payment is known",
  },
  "fraud.rule_disable": {
    requester: FRAUD_RULES,
    approverPermission: "fraud.rules.write",
    description: "disabling a fraud rule",
  },
  "fraud.rule_shadow": {
    requester: FRAUD_RULES,
    approverPermission: "fraud.rules.write",
    description: "putting a fraud rule in shadow mode (signals only, no alerts)",
  },
  "fraud.rule_loosen": {
    requester: FRAUD_RULES,
    approverPermission: "fraud.rules.write",
    description: "loosening a fraud rule: a change that can only make it raise fewer alerts " +
      "or fewer points (thresholds raised or off, points lowered, amounts raised or removed, " +
      "window shortened, severity lowered)",
  },
} as const satisfies Record<string, ApprovalPolicy>;

export type ApprovalKind = keyof typeof APPROVAL_POLICY;

export function isApprovalKind(kind: string): kind is ApprovalKind {
  return Object.hasOwn(APPROVAL_POLICY, kind);
}

/** Roles that can approve something: accounts with them are created and granted by two people. */
export const APPROVING_ROLES: readonly string[] = ["operator", "admin"];

export type ApproverDenial =
  | { code: "self_approval_forbidden"; reason: string }
  | { code: "linked_account"; reason: string };

/**
 * Whether `approver` may decide `request`: never the requester, never the
 * admin the request acts on, never an account linked (created, approved or
 * enrolled) to either of them, in either direction. `linked` is the set of
 * admin ids linked to the approver.
 */
export function approverDenial(
  request: { requested_by: string; target: { type: string; id: string } | null },
  approver: string,
  linked: ReadonlySet<string>,
): ApproverDenial | null {
  if (request.requested_by === approver) {
    return { code: "self_approval_forbidden", reason: "self-approval: you asked for this" };
  }
  const targetAdmin = request.target?.type === "admin" ? request.target.id : null;
  if (targetAdmin === approver) {
    return {
      code: "self_approval_forbidden",
      reason: "self-approval: this request acts on your own account",
    };
  }
  if (linked.has(request.requested_by)) {
    return {
      code: "linked_account",
      reason: `linked account: you and the requester ${request.requested_by} created, ` +
        "approved or enrolled one another, or one person handed over both your credentials",
    };
  }
  if (targetAdmin && linked.has(targetAdmin)) {
    return {
      code: "linked_account",
      reason: `linked account: you and ${targetAdmin}, the account this acts on, created, ` +
        "approved or enrolled one another, or one person handed over both your credentials",
    };
  }
  return null;
}

/**
 * Whether `earlier`, still waiting, is the very request `ctx` asks for now:
 * same kind, same requester, same payload. Sent again (a second click, a
 * retry, a burst) it is answered with `earlier`, nothing written; anyone
 * else's, or another request, waits behind it (409).
 */
export function sameRequestAgain(
  earlier: Pick<ApprovalRequest, "kind" | "requested_by" | "payload">,
  ctx: CallContext,
  kind: string,
  payload: Record<string, unknown>,
): boolean {
  return earlier.kind === kind && earlier.requested_by === ctx.actor.id &&
    canonicalJson(earlier.payload) === canonicalJson(payload);
}

/** A waiting request as a 409 names it: "apr_…: summary, asked by adm_… at …". */
export function waitingRequestWords(
  earlier: Pick<ApprovalRequest, "id" | "summary" | "requested_by" | "created_at">,
  ctx: CallContext,
): string {
  return `${earlier.id}: ${earlier.summary}, asked ${
    byWhom(earlier.requested_by, earlier.created_at, ctx)
  }`;
}
