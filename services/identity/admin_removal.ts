/**
 * One admin alone cannot lock every other admin out (README, "Accounts and
 * enrollment"). From the API, disabling an active admin, or demoting it to a
 * role that cannot manage accounts, is:
 *
 *   - refused (409, `rule: last_unlinked_admin`) when it would leave no active
 *     admin but the actor and the accounts linked to them: nobody would be
 *     left to undo it, nor to approve it (the CLI, break-glass, still can);
 *   - immediate when neither the actor nor an active admin linked to them
 *     removed an admin alone in the last 24 h: a compromised admin is cut off
 *     at once;
 *   - otherwise a pending `user.disable` / `user.demote` request, which an
 *     admin linked neither to the requester nor to the target approves.
 *
 * Decided in the commit that acts on it: the rows of the actor's and their
 * linked admins' last removals alone, the actor's record and the admin left
 * whom the decision counted on are checked there, so of a burst (tabs,
 * isolates, two linked accounts at once) at most one removal lands alone.
 */
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { can, type Role } from "../../domain/permissions.ts";
import {
  ADMIN_REMOVAL_WINDOW_MS,
  type AdminRecord,
  type AdminRemoval,
  adminRemoval,
  type AdminRemovalAlone,
  type AdminStatus,
} from "../../domain/admin.ts";
import type { ApprovalKind } from "../../domain/approval.ts";
import { addRemovalAlone, getAdmin, getRemovalsAlone, listAdminEntries } from "../../kv/admins.ts";
import { type ApprovalRequest, type ApprovalService, linksOf } from "../approvals/mod.ts";
import type { AuditInput } from "../audit/mod.ts";
import {
  type AdminView,
  adminView,
  changedMeanwhile,
  type IdentityDeps,
  loadAdmin,
} from "./accounts.ts";
import { addAdminChange } from "./account_change.ts";
import { type AccountRequestWords, addRequestOnce } from "./account_requests.ts";
import { checkRole, refuseSelf } from "./users.ts";
import { alreadyAudited } from "./refusals.ts";

export interface RemovalChange {
  role?: Role;
  status?: AdminStatus;
}

/** The window row outlives the window by this much; its `at` is what counts. */
const ROW_MARGIN_MS = 3600_000;

const target = (id: string) => ({ type: "admin", id });

const KINDS: Record<AdminRemoval, ApprovalKind> = {
  disable: "user.disable",
  demote: "user.demote",
};

type Decision =
  /** `again`: the same change had landed meanwhile; nothing written */
  | { kind: "done"; admin: AdminView; again?: true }
  | { kind: "pending"; request: ApprovalRequest }
  | { kind: "refused"; reason: string };

function after(a: AdminRecord, change: RemovalChange): Pick<AdminRecord, "role" | "status"> {
  return { role: change.role ?? a.role, status: change.status ?? a.status };
}

/** Whether this change, asked for by an admin through the API, goes through `removeAdmin`. */
export function removesAdmin(ctx: CallContext, before: AdminRecord, change: RemovalChange) {
  return ctx.actor.type === "admin" && adminRemoval(before, after(before, change)) !== null;
}

/** The actor's record, checked in the commit: a change by an admin disabled meanwhile never lands. */
async function activeActor(d: IdentityDeps, ctx: CallContext): Promise<Deno.KvEntry<AdminRecord>> {
  const entry = await getAdmin(d.kv, ctx.actor.id);
  const a = entry.value;
  if (!a || a.status !== "active" || !can(a.role, "users.write")) {
    throw new AppError(
      "forbidden",
      `admin ${ctx.actor.id} no longer manages accounts (disabled or demoted meanwhile); ` +
        "nothing was changed",
    );
  }
  return entry as Deno.KvEntry<AdminRecord>;
}

/** What a pending removal asks for (re-read by `executeRemoval`) and how it reads in the queue. */
function requestOf(
  admin: AdminRecord,
  change: RemovalChange,
  removal: AdminRemoval,
  spent: Deno.KvEntry<AdminRemovalAlone>,
): { payload: Record<string, unknown>; words: AccountRequestWords } {
  const why = `${String(spent.key[1])} already removed admin ${spent.value.admin_id} alone at ` +
    spent.value.at;
  const role = change.role !== undefined && change.role !== admin.role ? change.role : null;
  if (removal === "disable") {
    return {
      payload: { status: "disabled", ...(role ? { role } : {}) },
      words: {
        summary: `disable admin ${admin.email}${role ? ` (as ${role})` : ""}; ${why}`,
        waiting: "a disabling",
      },
    };
  }
  return {
    payload: { from_role: admin.role, role },
    words: { summary: `demote admin ${admin.email} to ${role}; ${why}`, waiting: "a demotion" },
  };
}

/**
 * `PATCH /api/admin/users/{id}` that disables or demotes an active admin
 * (`removesAdmin`), judged on `read`: done at once (200), a pending request
 * (202), or refused (409).
 */
export async function removeAdmin(
  d: IdentityDeps,
  approvals: ApprovalService,
  ctx: CallContext,
  read: Deno.KvEntry<AdminRecord>,
  change: RemovalChange,
): Promise<{ admin: AdminView; pending_approval: ApprovalRequest | null }> {
  const id = read.value.id;
  await refuseSelf(d, ctx, id, "user.update", "change the role or status of");
  const decision = await d.audit.commit(ctx, async (op) => {
    const now = d.clock.now();
    const entry = await loadAdmin(d, id);
    const removal = adminRemoval(entry.value, after(entry.value, change));
    if (entry.versionstamp !== read.versionstamp || !removal) {
      // the very change landed meanwhile (a second click, another tab): answered as the
      // account stands, nothing written, as when it is sent after the first answer
      const now = after(entry.value, change);
      if (now.role === entry.value.role && now.status === entry.value.status) {
        const value: Decision = { kind: "done", admin: adminView(entry.value), again: true };
        return { value, audit: [] };
      }
      throw changedMeanwhile(id);
    }
    op.check(await activeActor(d, ctx));
    const admins = await listAdminEntries(d.kv);
    const others = admins.map((a) => a.value.id).filter((x) => x !== ctx.actor.id);
    const linked = await linksOf(d.kv, ctx.actor.id, others);
    const managers = admins.filter((a) =>
      a.value.status === "active" && can(a.value.role, "users.write")
    );
    const left = managers.find((a) =>
      a.value.id !== ctx.actor.id && a.value.id !== id && !linked.has(a.value.id)
    );
    if (!left) {
      const reason = `${removal === "disable" ? "disabling" : "demoting"} admin ${id} would ` +
        `leave no active admin but ${ctx.actor.id} and the accounts linked to them`;
      const audit: AuditInput[] = [{
        action: removal === "disable" ? "user.disable" : "user.update",
        target: target(id),
        result: "denied",
        reason,
      }];
      return { value: { kind: "refused", reason } as Decision, audit };
    }
    const rows = await getRemovalsAlone(d.kv, [
      ctx.actor.id,
      ...managers.filter((a) => linked.has(a.value.id)).map((a) => a.value.id),
    ]);
    const spent = rows.find((r): r is Deno.KvEntry<AdminRemovalAlone> =>
      r.value !== null && Date.parse(r.value.at) > now - ADMIN_REMOVAL_WINDOW_MS
    );
    if (spent) {
      const { payload, words } = requestOf(entry.value, change, removal, spent);
      const kind = KINDS[removal];
      const asked = await addRequestOnce(d, approvals, ctx, op, entry, kind, payload, words);
      return { value: { kind: "pending", request: asked.value } as Decision, audit: asked.audit };
    }
    // the admin left is checked too: removing it meanwhile makes this one decide again
    op.check(left);
    const row = { at: new Date(now).toISOString(), admin_id: id, removal };
    addRemovalAlone(op, rows, ctx.actor.id, row, ADMIN_REMOVAL_WINDOW_MS + ROW_MARGIN_MS);
    const changed = await addAdminChange(d, ctx, op, entry, change, { now });
    return {
      value: { kind: "done", admin: changed.value.admin } as Decision,
      audit: changed.audit,
    };
  });
  if (decision.kind === "refused") {
    // audited denied in the commit that decided it
    throw alreadyAudited(
      new AppError(
        "conflict",
        `${decision.reason}: one admin alone cannot lock every other admin out, and nobody else ` +
          "could approve it. Whoever holds the server's KV can (`deno task admin disable --id` " +
          "or `set-role`, break-glass)",
        { extra: { rule: "last_unlinked_admin" } },
      ),
    );
  }
  if (decision.kind === "pending") {
    return { admin: adminView(read.value), pending_approval: decision.request };
  }
  if (decision.admin.status === "disabled" && !decision.again) await d.onDisabled?.(id);
  return { admin: decision.admin, pending_approval: null };
}

/**
 * `user.disable` / `user.demote` approved: the change asked for, as the
 * approver, if the admin is still an active admin (a request about an admin
 * changed since is void before this runs: services/approvals/rules.ts).
 */
export function executeRemoval(d: IdentityDeps) {
  return async (_deps: unknown, request: ApprovalRequest, ctx: CallContext) => {
    const id = String(request.payload.admin_id);
    const change: RemovalChange = {
      ...(request.payload.role ? { role: checkRole(String(request.payload.role)) } : {}),
      ...(request.payload.status === "disabled" ? { status: "disabled" as const } : {}),
    };
    const value = await d.audit.commit(ctx, async (op) => {
      const entry = await loadAdmin(d, id);
      if (!adminRemoval(entry.value, after(entry.value, change))) {
        throw new AppError(
          "conflict",
          `admin ${id} is no longer an active admin (now ${entry.value.role}, ` +
            `${entry.value.status}); nothing was changed`,
        );
      }
      const changed = await addAdminChange(d, ctx, op, entry, change, {
        now: d.clock.now(),
        approval: request,
      });
      const { role, status } = changed.value.admin;
      return { value: { admin_id: id, role, status }, audit: changed.audit };
    });
    if (value.status === "disabled") await d.onDisabled?.(id);
    return value;
  };
}
