/** What the identity service offers (the guard's checks, accounts) and what it is built with. */
import type { AuditService } from "../audit/mod.ts";
import type { AttemptedRequest, CallContext, Principal, RequestMeta } from "../../domain/actor.ts";
import type { Permission } from "../../domain/permissions.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { ApprovalRequest, ApprovalService } from "../approvals/mod.ts";
import type { FlushTimer, RateLimits } from "./throttle.ts";
import type { AdminChange, AdminCredentials, AdminView } from "./users.ts";
import type { AccountRequestResult } from "./invites.ts";
import type { IssuedCode, Redeemed } from "./enrollment.ts";
import type { FirstAdminInput, FirstAdminOutcome } from "./first_admin.ts";

/** How a route judges a token besides the usual checks. */
export interface AuthOptions {
  /**
   * The route rotates the caller's own token (`POST /api/admin/me/rotate-token`): a token its
   * admin rotated there moments before this request arrived (`arrivedAt`, ms), a concurrent
   * rotation that lost, is `409 conflict` with `rotated_at` rather than an unknown token's 401
   * (README, "Accounts and enrollment"). It acts on nothing either way.
   */
  ownRotation?: { arrivedAt: number };
}

/** The guard's four checks (routes/admin_route.ts). */
export interface IdentityGuard {
  /**
   * Counts a failed authentication against the client address; past a burst
   * (AUTH_FAILURE_BURST a minute) the answer becomes 429 until the minute
   * ends, with a log line. Successful requests pay nothing for this.
   */
  countFailedAuthentication(meta: RequestMeta): Promise<void>;
  /**
   * 429 `rate_limited` (with `Retry-After`) while the client address is past
   * the burst of failed authentications, whatever the request carries; run
   * before a credential is looked at.
   */
  checkAddress(meta: RequestMeta): Promise<void>;
  /** the bearer token's admin (no address check, nothing counted) */
  authenticate(
    authorization: string | undefined,
    meta: RequestMeta,
    options?: AuthOptions,
  ): Promise<Principal>;
  /**
   * What a request's authentication does: `checkAddress`, then the bearer
   * token; a failure is counted against the address (a lost rotation of one's own token, 409,
   * is no failure).
   */
  authenticateRequest(
    authorization: string | undefined,
    meta: RequestMeta,
    options?: AuthOptions,
  ): Promise<Principal>;
  throttle(principal: Principal, kind: "api" | "step_up"): Promise<void>;
  authorize(principal: Principal, permission: Permission, meta: RequestMeta): Promise<void>;
  verifySecondFactor(
    principal: Principal,
    /** `attempted`: what the request does, named in the entry of a refused factor */
    factor: { otp?: string; stepUp?: string; attempted?: AttemptedRequest },
    meta: RequestMeta,
  ): Promise<void>;
}

export interface Me extends AdminView {
  permissions: Permission[];
  second_factor: {
    enrolled: boolean;
    enrolled_at: string | null;
    /** ISO 8601 while locked after repeated wrong codes */
    locked_until: string | null;
    recovery_codes_remaining: number;
  };
}

export interface IdentityService extends IdentityGuard {
  /** POST /api/admin/step-up: consumes `code`, returns a token for this admin and bearer token */
  stepUp(
    principal: Principal,
    code: string,
    meta: RequestMeta,
  ): Promise<{ step_up_token: string; expires_at: string }>;
  me(principal: Principal): Promise<Me>;
  /** break-glass (CLI, demo): creates the account and returns its credentials */
  createAdmin(ctx: CallContext, input: { email: string; role: string }): Promise<AdminCredentials>;
  /** POST /api/admin/users: an enrollment code, and a pending request for roles that can approve */
  requestAccount(
    ctx: CallContext,
    input: { email: string; role: string },
  ): Promise<AccountRequestResult>;
  /** POST /api/admin/enroll: the person's own credentials, once */
  enroll(
    code: string,
    meta: RequestMeta,
    proof: { otp?: string; authorization?: string },
  ): Promise<Redeemed>;
  /** POST /api/admin/users/{id}/rotate-token|reset-2fa: a request a third person approves */
  requestCredentialReset(
    ctx: CallContext,
    id: string,
    what: "token" | "second_factor",
  ): Promise<ApprovalRequest>;
  /**
   * POST /api/admin/me/rotate-token: replaces `tokenHash`, the caller's token, only while it is
   * still the account's (of concurrent rotations with one token, one wins; the rest are 409)
   */
  rotateOwnToken(
    ctx: CallContext,
    tokenHash: string,
  ): Promise<{ admin: AdminView; token: string }>;
  listAdmins(options: { limit: number; cursor?: string }): Promise<Page<AdminView>>;
  getAdmin(id: string): Promise<AdminView>;
  /** every admin, oldest first (CLI) */
  allAdmins(): Promise<AdminView[]>;
  updateAdmin(
    ctx: CallContext,
    id: string,
    change: AdminChange,
  ): Promise<
    { admin: AdminView; pending_approval: ApprovalRequest | null; handover?: IssuedCode }
  >;
  rotateToken(ctx: CallContext, id: string): Promise<{ admin: AdminView; token: string }>;
  resetSecondFactor(
    ctx: CallContext,
    id: string,
  ): Promise<
    { admin: AdminView; totp_secret: string; otpauth_uri: string; recovery_codes: string[] }
  >;
  anyAdminExists(): Promise<boolean>;
  /**
   * Start-up with FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE: the first admin of a store
   * with none, or its code issued again once expired unused; logged (first_admin.ts)
   */
  startFirstAdmin(input: FirstAdminInput): Promise<FirstAdminOutcome>;
  /** Flushes the API request counts this isolate still holds to KV (shutdown). */
  close(): Promise<void>;
}

export interface IdentityOptions {
  audit: AuditService;
  cursors: CursorSealer;
  newId: IdFactory;
  /** the two-person queue: account, grant and credential-reset kinds register on it */
  approvals?: ApprovalService;
  /** runs right after an account's disable commits (services/mod.ts: its refunds awaiting approval) */
  onAccountDisabled?: (adminId: string) => Promise<void>;
  /** per-token budgets (default 120 API requests and 10 step-ups a minute) */
  limits?: RateLimits;
  /** how long API request counts may stay in this isolate before they go to KV */
  throttleFlushEveryMs?: number;
  /**
   * Flushes counts left when requests stop. Default: a real (unref'd) timer with
   * the system clock; none with another clock, whose time moves only when a test
   * says so (then requests and `close()` flush).
   */
  throttleFlushTimer?: FlushTimer | null;
}
