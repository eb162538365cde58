/** An admin (a person who signs in with a token) and a pending change of role. */
import type { Role } from "./permissions.ts";

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
}

export type RoleGrantStatus = "pending" | "approved" | "rejected";

export interface RoleGrant {
  id: string;
  admin_id: string;
  /** the role the admin had when the grant was requested; approval refuses if it changed */
  from_role: Role;
  role: Role;
  status: RoleGrantStatus;
  requested_by: string;
  decided_by: string | null;
  created_at: string;
  decided_at: string | null;
  /** ISO 8601; a pending grant past this can no longer be approved */
  expires_at: string;
}
