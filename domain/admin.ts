/** An admin: a person who signs in with a token. */
import { can, type Permission, type Role } from "./permissions.ts";

export type AdminStatus = "active" | "disabled";

export interface AdminRecord {
  id: string;
  /** lowercased */
  email: string;
  role: Role;
  status: AdminStatus;
  /** SHA-256 (hex) of the current API token */
  token_hash: string;
  /** ISO 8601 */
  created_at: string;
  updated_at: string;
  /** who created it: an admin id or a system actor such as `cli` */
  created_by: string;
  /** ISO 8601: when the current token was issued (API_TOKEN_TTL_DAYS counts from here) */
  token_issued_at?: string;
  /**
   * ISO 8601: when the token was revoked with no new one issued yet (a rotation, role grant or
   * re-enabling approved, an account made through the API not yet enrolled); absent while the
   * account's token works. A second-factor reset's code is redeemed with that token (README,
   * "Accounts and enrollment").
   */
  token_revoked_at?: string;
  /**
   * ISO 8601: when the account was last disabled. A request it made before
   * then is void, even once it is active again (README, "Accounts and enrollment").
   */
  disabled_at?: string;
  /**
   * ISO 8601: when a role change last took a permission away. A request it made
   * before then is void whatever the role is now: demoted and promoted back, it
   * does not come back.
   */
  demoted_at?: string;
}

/** Whether the account's token works: not revoked with no new one issued since. */
export function tokenWorks(a: Pick<AdminRecord, "token_revoked_at">): boolean {
  return a.token_revoked_at === undefined;
}

/** `a` with a newly issued token (`tokenHash`, issued at `iso`): a revoked one is replaced. */
export function withIssuedToken(a: AdminRecord, tokenHash: string, iso: string): AdminRecord {
  const { token_revoked_at: _revoked, ...rest } = a;
  return { ...rest, token_hash: tokenHash, token_issued_at: iso };
}

/**
 * Taking an admin's hold on accounts away: disabling an active admin, or
 * giving it a role that cannot manage accounts (README, "Accounts and
 * enrollment": one admin alone cannot lock every other admin out).
 */
export type AdminRemoval = "disable" | "demote";

/** How far back an admin's removals of admins made alone are counted: a rolling 24 h. */
export const ADMIN_REMOVAL_WINDOW_MS = 24 * 3600_000;

/** An admin's last removal of an admin made alone (no second person), kept for the window. */
export interface AdminRemovalAlone {
  /** ISO 8601 */
  at: string;
  /** the admin removed */
  admin_id: string;
  removal: AdminRemoval;
}

/**
 * Whether going from `before` to `after` removes an admin: null unless
 * `before` is an active account that manages accounts (`users.write`);
 * `disable` when it is disabled (whatever its role becomes), `demote` when it
 * stays active with a role that cannot manage accounts.
 */
export function adminRemoval(
  before: Pick<AdminRecord, "role" | "status">,
  after: Pick<AdminRecord, "role" | "status">,
): AdminRemoval | null {
  if (before.status !== "active" || !can(before.role, "users.write")) return null;
  if (after.status === "disabled") return "disable";
  return can(after.role, "users.write") ? null : "demote";
}

/** What an account's email must look like once trimmed and lowercased (at most 254 characters). */
export const EMAIL_FORMAT = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** `raw` trimmed and lowercased, or null when it is not an email address. */
export function canonicalEmail(raw: string): string | null {
  const e = raw.trim().toLowerCase();
  return e.length <= 254 && EMAIL_FORMAT.test(e) ? e : null;
}

/**
 * Why `admin` (asked for as `id`) cannot be given work that needs
 * `permission` (null: it can): an active account whose role holds it. A
 * dispute's assignee works disputes (README "Dispute workbench"), a fraud
 * alert's works alerts (README "Fraud detection": workflow). `work` says it
 * in words: "work disputes (support or above)".
 */
export function assigneeRefusal(
  admin: AdminRecord | null,
  id: string,
  permission: Permission,
  work: string,
): string | null {
  if (!admin) {
    // an email, a name: the field takes the account's id. Only an admin lists accounts
    // (`users.read`), while support and analysts send assignees too: every caller reads its
    // own id on GET /api/admin/me.
    const where = "your own is on GET /api/admin/me; an admin lists every account's on " +
      "GET /api/admin/users";
    return id.startsWith("adm_")
      ? `no admin ${id} (${where})`
      : `no admin ${id} (the field takes an admin's id, adm_…: ${where})`;
  }
  if (admin.status !== "active") return `admin ${id} is ${admin.status}`;
  if (!can(admin.role, permission)) return `admin ${id} is ${admin.role}, who cannot ${work}`;
  return null;
}
