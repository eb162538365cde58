/** An admin account as services see it: what identity's parts share (users, role grants). */
import type { CursorSealer } from "../../kv/pagination.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { Logger } from "../../core/log.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { Role } from "../../domain/permissions.ts";
import type { SecondFactorDeps } from "./second_factor.ts";
import { getAdmin } from "../../kv/admins.ts";
import type { AdminRecord, AdminStatus } from "../../domain/admin.ts";
import type { CallContext } from "../../domain/actor.ts";
import { BREAK_GLASS_ACTOR, FIRST_ADMIN_ACTOR } from "../../domain/system_actors.ts";
import type { ApprovalRequest } from "../../domain/approval.ts";
import type { AuditInput } from "../audit/mod.ts";
import { adminCliLine, DEFAULT_KV_PATH } from "../../core/store_command.ts";

export interface IdentityDeps extends SecondFactorDeps {
  cursors: CursorSealer;
  newId: IdFactory;
  /** where an ops alert raised by an account change is logged too */
  log: Logger;
  /**
   * Runs right after an account's disable commits: other domains void what it
   * started that they keep (refunds awaiting approval). Must not throw.
   */
  onDisabled?: (adminId: string) => Promise<void>;
  /**
   * An entry about a request with its kind's entry in the history of what the request acts on
   * (the approvals queue's `entriesAbout`), for the requests a disable expires itself.
   */
  entriesAbout?: (request: ApprovalRequest, entry: AuditInput) => AuditInput[];
  /**
   * The admin CLI can open the server's store (a file or a KV Connect URL in KV_PATH; not Deno
   * Deploy's own database or `:memory:`): whether break-glass is a way out to offer.
   */
  storeReachedByCli?: boolean;
  /**
   * An admin CLI line (`disable --id adm_…`) as typed to reach the server's store, as the CLI's
   * own lines are (README, Commands: `KV_PATH=…` and the Deno that runs it); null where no CLI
   * reaches it (`:memory:`). Unset: the default store's.
   */
  cliLine?: (args: string) => string | null;
}

/** `d.cliLine(args)` (unset: on the default store, with the Deno that runs this process). */
export function adminCliLineOf(d: Pick<IdentityDeps, "cliLine">, args: string): string | null {
  return d.cliLine ? d.cliLine(args) : adminCliLine(DEFAULT_KV_PATH, args);
}

/**
 * How an ops alert says to disable account `id` (README, "Ops alerts"): through the API, or
 * break-glass with the CLI line that reaches the server's store.
 */
export function disableAdvice(d: Pick<IdentityDeps, "cliLine">, id: string): string {
  const line = adminCliLineOf(d, `disable --id ${id}`);
  return `(PATCH /api/admin/users/{id}${line ? `, or \`${line}\`` : ""})`;
}

/** An admin as the API shows it: never the token hash. */
export interface AdminView {
  id: string;
  email: string;
  role: Role;
  status: AdminStatus;
  created_at: string;
  updated_at: string;
  created_by: string;
}

export function adminView(a: AdminRecord): AdminView {
  return {
    id: a.id,
    email: a.email,
    role: a.role,
    status: a.status,
    created_at: a.created_at,
    updated_at: a.updated_at,
    created_by: a.created_by,
  };
}

export async function loadAdmin(d: IdentityDeps, id: string): Promise<Deno.KvEntry<AdminRecord>> {
  const entry = await getAdmin(d.kv, id);
  if (entry.value === null) throw notFound("admin", id);
  return entry as Deno.KvEntry<AdminRecord>;
}

/**
 * The account changed between the read a decision was made on (whether a
 * second admin is needed) and the commit: never act on the old judgement.
 */
export function changedMeanwhile(id: string): AppError {
  return new AppError(
    "conflict",
    `admin ${id} changed while this request was handled (another change landed first); ` +
      "read it again and retry",
  );
}

/**
 * 409 for an email that has an account (`id`): whose, made by whom and when.
 * A second click of a creation lands here: the first answer carried the
 * account's credentials or enrollment code, shown once, so it is told rather
 * than answered. The CLI adds its own next step (cli/admin.ts).
 */
export async function emailTaken(
  d: Pick<IdentityDeps, "kv">,
  ctx: CallContext,
  id: string,
): Promise<AppError> {
  const a = (await getAdmin(d.kv, id)).value;
  const who = a
    ? `: created by ${a.created_by} at ${a.created_at}, now ${a.role} and ${a.status}`
    : "";
  const api = ctx.actor.type === "admin"
    ? "; if you sent this request twice, the first answer carried its enrollment code (shown " +
      "once). To give this person access again, change that account instead " +
      `(PATCH /api/admin/users/${id}: its role, or status active to re-enable it with a new ` +
      "enrollment code)"
    : "";
  return new AppError("conflict", `an admin with this email already exists (${id})${who}${api}`, {
    extra: { admin_id: id },
  });
}

/** Whether `ctx` is the break-glass CLI, which acts alone on accounts by design. */
export function isBreakGlassCli(ctx: CallContext): boolean {
  return ctx.actor.type === "system" && ctx.actor.id === BREAK_GLASS_ACTOR;
}

/** Whether `ctx` is the start-up making the first admin from the environment. */
export function isFirstAdminStart(ctx: CallContext): boolean {
  return ctx.actor.type === "system" && ctx.actor.id === FIRST_ADMIN_ACTOR;
}

/** System actors (the CLI, the first admin's start-up) act alone on purpose: their entries say so. */
export function breakGlass(ctx: CallContext): string | null {
  if (isFirstAdminStart(ctx)) {
    return `break-glass (${ctx.actor.id}): the server's FIRST_ADMIN_EMAIL and ` +
      "FIRST_ADMIN_ENROLLMENT_CODE at start-up, no second person";
  }
  return ctx.actor.type === "system"
    ? `break-glass (${ctx.actor.id}): direct access to the KV, no second person`
    : null;
}
