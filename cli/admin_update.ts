/**
 * The admin CLI's account changes (`disable`, `enable`, `set-role`) and what it
 * says after a refusal. Every `deno task admin` line it prints names the store
 * it ran on (`KV_PATH=…` when not the default, README "Quick start"), so pasted
 * it reaches the same store. A change the account already has writes nothing
 * and says so (`changed: false` with `--json`; README, Commands).
 */
import type { Role } from "../domain/permissions.ts";
import type { CallContext } from "../domain/actor.ts";
import { AppError } from "../core/errors.ts";
import type { Services } from "../services/mod.ts";
import type { Command } from "./admin_args.ts";
import { retryWhileLocked } from "./admin_lock.ts";

export type Print = (json: unknown, human: string[]) => void;

/** The commands that give an existing account new credentials, on `cli`'s store. */
function renewal(cli: string, id: string): string {
  return `${cli} rotate-token --id ${id} (a token), ${cli} reset-2fa --id ${id} (a TOTP secret)`;
}

/**
 * `disable`, `enable` or `set-role`; returns whether anything was written. `cli` is
 * `deno task admin` as it must be typed for this store.
 */
export async function updateAccount(
  identity: Services["identity"],
  ctx: CallContext,
  cmd: Command,
  print: Print,
  cli: string,
): Promise<boolean> {
  const id = cmd.id!;
  const change = cmd.verb === "set-role"
    ? { role: cmd.role as Role }
    : { status: cmd.verb === "disable" ? "disabled" as const : "active" as const };
  // the account as it was: an unknown id is refused (and audited) by the change itself
  const before = await retryWhileLocked(() => identity.getAdmin(id)).catch((e) => {
    if (e instanceof AppError && e.code === "not_found") return null;
    throw e;
  });
  const r = await retryWhileLocked(() => identity.updateAdmin(ctx, id, change));
  const a = r.admin;
  const code = r.handover;
  const changed = code !== undefined || before === null || a.updated_at !== before.updated_at;
  const who = `admin ${a.id} <${a.email}>`;
  const handover = (verb: string) =>
    code
      ? [
        `its old token and second factor ${verb} revoked; hand over this enrollment code ` +
        "(single-use, redeemed at POST /api/admin/enroll), shown once:",
        `  enrollment code: ${code.enrollment_code} (expires ${code.enrollment_expires_at})`,
      ]
      : [];
  const json = { ...a, changed, ...(code ? { handover: code } : {}) };
  if (!changed) {
    const now = cmd.verb === "set-role" ? a.role : a.status;
    print(json, [
      `${who} is already ${now}; nothing was changed`,
      ...(cmd.verb === "enable" ? [`for new credentials on it: ${renewal(cli, a.id)}`] : []),
    ]);
  } else if (cmd.verb === "set-role") {
    print(json, [`${who} is now ${a.role}`, ...handover("were")]);
  } else {
    // re-enabled with no old credential: the person enrolls new ones with this code
    print(json, [`${cmd.verb}d ${who}`, ...handover("stay")]);
  }
  return changed;
}

/** What the person at the terminal does next, after the service's refusal, on `cli`'s store. */
export function nextStep(e: AppError, cli: string): string {
  if (e.code === "not_found" && /^no admin /.test(e.message)) {
    return `\n\`${cli} list\` shows every account's id`;
  }
  if (e.extra?.rule === "last_active_admin") {
    const disabled = Array.isArray(e.extra.disabled_admins) ? e.extra.disabled_admins : [];
    return `\ncreate or enable another admin first: ${cli} create --email E --role admin` +
      (disabled.length
        ? `, or ${disabled.map((id) => `${cli} enable --id ${id}`).join(", or ")}`
        : "");
  }
  const named = e.extra?.admin_id;
  const existing = typeof named === "string"
    ? named
    : /already exists \((adm_\w+)\)/.exec(e.message)?.[1];
  if (e.code === "conflict" && existing) {
    return `\nfor new credentials on that account: ${renewal(cli, existing)}; if it is ` +
      `disabled: ${cli} enable --id ${existing}`;
  }
  return "";
}
