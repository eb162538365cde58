/**
 * Roles and what each may do: one declarative table. Every admin route names
 * one permission; the guard middleware checks it here and nowhere else.
 *
 * Ladder, least to most: viewer < support < analyst < operator < admin.
 * `auditor` sits outside the ladder: it reads the audit log and nothing that moves money.
 */
export const ROLES = ["viewer", "support", "analyst", "operator", "admin", "auditor"] as const;
export type Role = typeof ROLES[number];

const LADDER: readonly Role[] = ["viewer", "support", "analyst", "operator", "admin"];

/** `X` and every role above it on the ladder ("X+" in the README). */
function atLeast(role: Role): Role[] {
  return LADDER.slice(LADDER.indexOf(role));
}

const EVERYONE: Role[] = [...ROLES];

export const PERMISSIONS = {
  "me.read": EVERYONE,
  "step_up.create": EVERYONE,
  "users.read": ["admin"],
  "users.write": ["admin"],
  "transactions.read": atLeast("viewer"),
  "customers.read": atLeast("viewer"),
  "refunds.read": atLeast("viewer"),
  "refunds.create": atLeast("operator"),
  "refunds.approve": atLeast("operator"),
  "ops_alerts.read": atLeast("viewer"),
  "ops_alerts.close": atLeast("operator"),
  "disputes.read": atLeast("viewer"),
  "disputes.note": atLeast("support"),
  "disputes.evidence": atLeast("support"),
  "disputes.assign": atLeast("support"),
  "disputes.sync": atLeast("operator"),
  "disputes.submit": atLeast("operator"),
  "disputes.accept": atLeast("operator"),
  "fraud.read": atLeast("analyst"),
  "fraud.triage": atLeast("analyst"),
  "fraud.rules.read": atLeast("analyst"),
  "fraud.rules.write": ["admin"],
  "fraud.sweeps": atLeast("analyst"),
  "retries.read": atLeast("viewer"),
  "retries.create": atLeast("operator"),
  "authorizations.read": atLeast("viewer"),
  "authorizations.manage": atLeast("operator"),
  "audit.read": ["auditor", "admin"],
  "audit.export": ["auditor", "admin"],
  "webhooks.read": ["admin"],
  "webhooks.replay": ["admin"],
  "approvals.read": atLeast("operator"),
  "approvals.decide": atLeast("operator"),
  "me.rotate_token": EVERYONE,
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function can(role: string, permission: Permission): boolean {
  return isRole(role) && (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

export function permissionsOf(role: Role): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((p) => can(role, p));
}

/** Rank on the ladder (auditor = -1): used to refuse raising one's own role. */
export function rank(role: Role): number {
  return LADDER.indexOf(role);
}

/** Whether moving from role `from` to `to` takes away any permission (a demotion, in part or whole). */
export function losesPermissions(from: string, to: string): boolean {
  return (Object.keys(PERMISSIONS) as Permission[]).some((p) => can(from, p) && !can(to, p));
}
