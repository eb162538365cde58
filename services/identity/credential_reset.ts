/**
 * `user.rotate_token` / `user.reset_2fa` once a third person approves (README,
 * "Two-person rules"): the old credential revoked and an enrollment code
 * issued in one commit; the approver's answer carries the code to hand over.
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import type { ApprovalRequest } from "../approvals/mod.ts";
import { addUpdateAdmin, getAdmin } from "../../kv/admins.ts";
import type { AdminRecord } from "../../domain/admin.ts";
import { addDeleteSecondFactor, getSecondFactor } from "../../kv/identity_factors.ts";
import type { IdentityDeps } from "./accounts.ts";
import { addIssuedCode, issueCode, revokedToken } from "./enrollment.ts";
import { factorState, lastFactorRefusal, readFactorState } from "./factor_state.ts";

const target = (id: string) => ({ type: "admin", id });

/**
 * Why approving `request` would leave its account with neither factor (409), checked before the
 * approval is claimed: the request then ends expired, nothing approved.
 */
export function lastFactorCheck(d: IdentityDeps, what: "token" | "second_factor") {
  return async (request: ApprovalRequest) => {
    const state = await readFactorState(d.kv, String(request.payload.admin_id), d.clock.now());
    return state ? lastFactorRefusal(state, what) : null;
  };
}

/** `user.rotate_token` / `user.reset_2fa`: the old credential revoked, an enrollment code issued. */
export function resetExecutor(d: IdentityDeps, what: "token" | "second_factor") {
  return (_deps: unknown, request: ApprovalRequest, ctx: CallContext) => {
    const id = String(request.payload.admin_id);
    return d.audit.commit(ctx, async (op) => {
      const entry = await getAdmin(d.kv, id);
      if (!entry.value) throw new AppError("not_found", `admin ${id} does not exist`);
      // re-checked where it acts: never leave the account with neither factor (README,
      // "Accounts and enrollment"); the factor as read is checked in this commit
      const factor = await getSecondFactor(d.kv, id);
      const account = entry as Deno.KvEntry<AdminRecord>;
      const last = lastFactorRefusal(await factorState(d.kv, account, factor, d.clock.now()), what);
      if (last) throw last;
      const iso = new Date(d.clock.now()).toISOString();
      if (what === "token") {
        // the old token stops now; the person redeems the code with their own TOTP code, the
        // factor checked as read above
        op.check(factor);
        addUpdateAdmin(op, account, {
          ...account.value,
          ...await revokedToken(iso),
          updated_at: iso,
        });
      } else {
        // the old factor (and its step-ups) stop now; redeemed with their own token
        addDeleteSecondFactor(op, factor);
        // a credential change: requests naming the account as it was are void
        addUpdateAdmin(op, account, { ...account.value, updated_at: iso });
      }
      const issued = await issueCode(d, ctx, what, { admin_id: id, approval_id: request.id });
      addIssuedCode(op, issued.record);
      return {
        value: { admin_id: id, handover: issued.code },
        audit: [{
          action: what === "token" ? "token.rotate" : "totp.reset",
          target: target(id),
          result: "ok",
          after: { approval_id: request.id, requested_by: request.requested_by },
          reason: "old credential revoked; the person enrolls the new one with an enrollment code",
        }],
      };
    });
  };
}
