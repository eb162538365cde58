/**
 * The break-glass CLI disables and demotes admins alone, "even the last admin
 * but one" (README, "Break-glass"), never the last: with no active admin left
 * nobody could manage accounts, nor undo the change through the API. The check
 * is made in the commit that writes the change (the admin counted on to remain
 * is checked there), so of a burst of CLI runs, or a CLI run and the server's
 * own changes, none leaves the store without an active admin.
 */
import { AppError } from "../../core/errors.ts";
import { can } from "../../domain/permissions.ts";
import { type AdminRecord, adminRemoval } from "../../domain/admin.ts";
import { listAdminEntries } from "../../kv/admins.ts";
import type { CallContext } from "../../domain/actor.ts";
import { isBreakGlassCli } from "./accounts.ts";
import { alreadyAudited } from "./refusals.ts";

/** The active accounts that manage accounts (`users.write`: admins), `id` left out. */
export async function activeManagersBut(
  kv: Deno.Kv,
  id: string,
): Promise<Deno.KvEntry<AdminRecord>[]> {
  return (await listAdminEntries(kv)).filter((e) =>
    e.value.id !== id && e.value.status === "active" && can(e.value.role, "users.write")
  );
}

/**
 * Adds to `op`, for a break-glass change that disables or demotes an active
 * admin, the check that another active admin remains; refuses it (409, nothing
 * written or audited, `rule: last_active_admin`) when none does.
 */
export async function addLastAdminCheck(
  kv: Deno.Kv,
  ctx: CallContext,
  op: Deno.AtomicOperation,
  before: AdminRecord,
  next: Pick<AdminRecord, "role" | "status">,
): Promise<void> {
  const removal = isBreakGlassCli(ctx) ? adminRemoval(before, next) : null;
  if (!removal) return;
  const left = await activeManagersBut(kv, before.id);
  if (left.length > 0) {
    // removed meanwhile, it makes this change decide again
    op.check(left[0]);
    return;
  }
  const disabled = (await listAdminEntries(kv))
    .filter((e) => e.value.status === "disabled" && can(e.value.role, "users.write"))
    .map((e) => e.value.id);
  throw alreadyAudited(
    new AppError(
      "conflict",
      `${removal === "disable" ? "disabling" : `giving role ${next.role} to`} admin ` +
        `${before.id} would leave no active admin: nobody could manage accounts, nor undo ` +
        "this through the API. Create or enable another admin first, then run this again; " +
        "nothing was changed",
      { extra: { rule: "last_active_admin", disabled_admins: disabled } },
    ),
  );
}
