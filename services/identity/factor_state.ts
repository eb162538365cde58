/**
 * Which of an account's two factors work, and which enrollment code waits for it (README,
 * "Accounts and enrollment"). A credential reset's code is redeemed with the other factor: a
 * rotation's with the current TOTP code, a second-factor reset's with the current token. So a
 * rotation while the account has no second factor, or a second-factor reset while its token is
 * revoked, would leave it with neither and a code nobody can redeem: such a request (and its
 * approval) is refused (409, `rule: last_factor`), naming the way out from where it stands.
 */
import { AppError } from "../../core/errors.ts";
import { type AdminRecord, tokenWorks } from "../../domain/admin.ts";
import { getAdmin } from "../../kv/admins.ts";
import {
  type Enrollment,
  type EnrollmentPurpose,
  openEnrollmentsOf,
} from "../../kv/enrollments.ts";
import { getSecondFactor, type SecondFactorRecord } from "../../kv/identity_factors.ts";

/** stored codes looked at (as when disabling an admin voids its codes) */
const SCAN = 500;

/**
 * Whether the account was written by a commit later than the one that issued
 * the code, told by versionstamps, not times: a change in the same
 * millisecond is still later. A commit that changes the account and issues its
 * code writes both with one versionstamp; a live code is never rewritten (only
 * using or revoking it does), so its versionstamp is its issuing commit's.
 * Such a code no longer opens the account.
 */
export function changedAfterIssue(
  account: Deno.KvEntry<AdminRecord>,
  code: Deno.KvEntry<Enrollment>,
): boolean {
  return account.versionstamp > code.versionstamp;
}

export interface WaitingCode {
  purpose: EnrollmentPurpose;
  /** who was handed the code (the approver of the change, or whoever re-enabled the account) */
  issued_by: string;
  expires_at: string;
}

export interface FactorState {
  admin: AdminRecord;
  /** the account's token works (not revoked by a rotation, a role grant or a re-enabling) */
  token: boolean;
  /** a second factor is enrolled (locked for a while or not) */
  secondFactor: boolean;
  /** the newest code of each purpose that would open the account if redeemed now */
  waiting: Partial<Record<EnrollmentPurpose, WaitingCode>>;
}

/**
 * The newest code of each purpose for the account read as `account`: unused, not expired or
 * revoked, issued since the account last changed, by an issuer still active (of the first
 * `SCAN` codes stored).
 */
async function waitingCodes(
  kv: Deno.Kv,
  account: Deno.KvEntry<AdminRecord>,
  now: number,
): Promise<FactorState["waiting"]> {
  const id = account.value.id;
  const codes = (await openEnrollmentsOf(kv, id, SCAN))
    .filter((e) =>
      e.value.admin_id === id && !e.value.revoked_reason &&
      Date.parse(e.value.expires_at) > now && !changedAfterIssue(account, e)
    )
    .sort((x, y) => y.value.issued_at.localeCompare(x.value.issued_at));
  const out: FactorState["waiting"] = {};
  for (const { value } of codes) {
    if (out[value.purpose]) continue;
    const issuer = await getAdmin(kv, value.issued_by);
    if (issuer.value && issuer.value.status !== "active") continue; // its codes died with it
    out[value.purpose] = {
      purpose: value.purpose,
      issued_by: value.issued_by,
      expires_at: value.expires_at,
    };
  }
  return out;
}

/** The account read as `account`, with its second factor as read as `factor`, at `now`. */
export async function factorState(
  kv: Deno.Kv,
  account: Deno.KvEntry<AdminRecord>,
  factor: Deno.KvEntryMaybe<SecondFactorRecord>,
  now: number,
): Promise<FactorState> {
  return {
    admin: account.value,
    token: tokenWorks(account.value),
    secondFactor: factor.value !== null,
    waiting: account.value.status === "active" ? await waitingCodes(kv, account, now) : {},
  };
}

/** `factorState` read from KV; null for an account that does not exist. */
export async function readFactorState(
  kv: Deno.Kv,
  adminId: string,
  now: number,
): Promise<FactorState | null> {
  const [account, factor] = await Promise.all([
    getAdmin(kv, adminId),
    getSecondFactor(kv, adminId),
  ]);
  if (!account.value) return null;
  return await factorState(kv, account as Deno.KvEntry<AdminRecord>, factor, now);
}

/**
 * The way back for an account with neither factor and no code that gives it one: disabling and
 * re-enabling it hands over a code for both; the break-glass CLI gives them directly.
 */
export function neitherFactorWayOut(id: string): string {
  return `disable and re-enable the account (PATCH /api/admin/users/${id} with ` +
    '{"status":"disabled"}, then {"status":"active"}): re-enabling hands over an enrollment ' +
    "code for a new token and second factor (approved by a second admin, whose answer carries " +
    "it, unless the account is no operator or admin, nobody enrolled it and you held its code); " +
    "or, break-glass, whoever holds the server's KV runs " +
    `deno task admin rotate-token --id ${id} and deno task admin reset-2fa --id ${id}`;
}

const WHAT = { token: "rotating its token", second_factor: "resetting its second factor" };

/**
 * Why a rotation (`token`) or a second-factor reset of the account in `state` would leave it with
 * neither factor, as a 409 naming the way out; null when it would not (or the account is
 * disabled: re-enabling it hands over both).
 */
export function lastFactorRefusal(
  state: FactorState,
  what: "token" | "second_factor",
): AppError | null {
  const { admin, waiting } = state;
  if (admin.status !== "active") return null;
  if (what === "token" ? state.secondFactor : state.token) return null;
  const id = admin.id;
  const neither = "would leave the account with neither a token nor a second factor, and no " +
    "code could be redeemed";
  let detail: string;
  if (!state.token && !state.secondFactor) {
    const code = waiting.account;
    detail = code
      ? `admin ${id} has neither a working token nor a second factor yet: the enrollment code ` +
        `handed to ${code.issued_by} (valid until ${code.expires_at}) gives it both. ` +
        `${WHAT[what]} now would void that code and leave nothing to redeem: let the person ` +
        "redeem it first (POST /api/admin/enroll), then ask again if still needed"
      : `admin ${id} has neither a working token nor a second factor, and no enrollment code ` +
        `that would give it one is waiting, so ${WHAT[what]} would hand over a code nobody ` +
        `could redeem. The way out: ${neitherFactorWayOut(id)}`;
  } else if (what === "token") {
    const code = waiting.second_factor;
    detail = code
      ? `admin ${id} has no second factor: a reset was approved and the enrollment code for a ` +
        `new one was handed to ${code.issued_by} (valid until ${code.expires_at}). Rotating ` +
        `its token now ${neither}: let the person redeem that code first (POST ` +
        "/api/admin/enroll with their current token), then ask again"
      : `admin ${id} has no second factor, and no enrollment code for one is waiting. Rotating ` +
        `its token now ${neither}: have its second factor reset first (POST /api/admin/users/` +
        `${id}/reset-2fa, approved by a second admin), let the person redeem that code with ` +
        "their current token, then ask again";
  } else {
    const code = waiting.token;
    detail = code
      ? `admin ${id}'s token was revoked: a rotation was approved and the enrollment code for a ` +
        `new token was handed to ${code.issued_by} (valid until ${code.expires_at}). Resetting ` +
        `its second factor now ${neither}: let the person redeem that code first (POST ` +
        "/api/admin/enroll with their current TOTP code in X-OTP-Code), then ask again"
      : `admin ${id}'s token was revoked and no enrollment code for a new one is waiting. ` +
        `Resetting its second factor now ${neither}: rotate its token first (POST ` +
        `/api/admin/users/${id}/rotate-token, approved by a second admin), let the person ` +
        "redeem that code with their current TOTP code (X-OTP-Code), then ask again";
  }
  return new AppError("conflict", detail, { extra: { rule: "last_factor" } });
}
