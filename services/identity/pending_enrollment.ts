/**
 * What the person an account belongs to hears when a factor they need is missing or a code no
 * longer opens it (README, "Accounts and enrollment"; "Second factor"): the way out from where
 * the account stands (factor_state.ts). A code waiting that they can redeem with what they
 * still hold comes first; else the request that gets them the missing factor back; with
 * neither factor, disabling and re-enabling the account, or the break-glass CLI.
 */
import { AppError } from "../../core/errors.ts";
import {
  type FactorState,
  neitherFactorWayOut,
  readFactorState,
  type WaitingCode,
} from "./factor_state.ts";

/** How a code of each purpose is redeemed, and for what. */
const REDEEMED = {
  account: "for a new token, TOTP secret and recovery codes",
  token: "with your current TOTP code (or a recovery code) in X-OTP-Code, for a new token",
  second_factor:
    "with your current token (Authorization: Bearer …), for a new TOTP secret and recovery codes",
};

/** The waiting code the person can redeem with what they still hold, if any. */
function redeemable(state: FactorState, purposes: WaitingCode["purpose"][]): WaitingCode | null {
  for (const purpose of purposes) {
    const code = state.waiting[purpose];
    if (!code) continue;
    if (purpose === "token" && !state.secondFactor) continue;
    if (purpose === "second_factor" && !state.token) continue;
    return code;
  }
  return null;
}

/** What gets the person a missing factor back when no code they can redeem is waiting. */
function askFor(state: FactorState): string {
  const id = state.admin.id;
  if (state.token && !state.secondFactor) {
    return `ask an admin to reset it (POST /api/admin/users/${id}/reset-2fa, approved by a ` +
      "second admin, who is handed an enrollment code you redeem at POST /api/admin/enroll with " +
      "your current token). Break-glass, without a second admin: whoever holds the server's KV " +
      `runs deno task admin reset-2fa --id ${id}`;
  }
  if (!state.token && state.secondFactor) {
    return `ask an admin to rotate your token (POST /api/admin/users/${id}/rotate-token, ` +
      "approved by a second admin, who is handed an enrollment code you redeem at POST " +
      "/api/admin/enroll with your current TOTP code in X-OTP-Code). Break-glass, without a " +
      `second admin: whoever holds the server's KV runs deno task admin rotate-token --id ${id}`;
  }
  if (!state.token && !state.secondFactor) {
    return "with neither a working token nor a second factor, no code for one can be " +
      `redeemed: ${neitherFactorWayOut(id)}`;
  }
  return "your token and second factor both work: there is nothing left to redeem";
}

/** What an admin with no second factor hears when a code is asked of them (step-up, X-OTP-Code). */
export async function notEnrolled(kv: Deno.Kv, adminId: string, now: number): Promise<AppError> {
  const state = await readFactorState(kv, adminId, now);
  if (!state) return new AppError("otp_invalid", `no admin ${adminId}`);
  const code = redeemable(state, ["second_factor", "account"]);
  if (code) {
    return new AppError(
      "otp_invalid",
      "no second factor is enrolled for this admin yet: an enrollment code for a new one is " +
        `waiting, handed to ${code.issued_by} when they approved the change. Ask them for ` +
        `it and redeem it at POST /api/admin/enroll {"code": "enr_…"} ${
          REDEEMED[code.purpose]
        }, before ${code.expires_at}`,
    );
  }
  return new AppError(
    "otp_invalid",
    "no second factor is enrolled for this admin, and no enrollment code for one is waiting: " +
      askFor({ ...state, secondFactor: false }),
  );
}

/**
 * The way out for whoever holds a code that no longer opens the account (it changed after the
 * code was issued): a newer code they can redeem, or what gets the account whole. The holder
 * of a newer code is not named: only its purpose and how it is redeemed.
 */
export async function afterChange(kv: Deno.Kv, adminId: string, now: number): Promise<string> {
  const state = await readFactorState(kv, adminId, now);
  if (!state) return `no admin ${adminId}`;
  const code = redeemable(state, ["account", "second_factor", "token"]);
  if (code) {
    return "a newer enrollment code for it is waiting, handed to whoever approved that change: " +
      `redeem that one at POST /api/admin/enroll ${REDEEMED[code.purpose]}, before ` +
      code.expires_at;
  }
  return askFor(state);
}
