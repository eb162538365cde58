/**
 * The workbench's own reads and changes: finding a dispute by any of its ids,
 * the detail view, the filtered list, and notes and assignment (audited in
 * the same commit).
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { IdFactory } from "../../core/ids.ts";
import { AppError, notFound, validationFailed } from "../../core/errors.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import { type DisputeRecord, withDisputeHistory } from "../../domain/dispute.ts";
import {
  addNote,
  addUpdateDispute,
  type DisputeFilters,
  getDispute,
  getDisputeIdByStripe,
  getDraft,
  getNote,
  listDisputes,
  listNotes,
  withCustomer,
} from "../../kv/disputes.ts";
import { getAdmin } from "../../kv/admins.ts";
import { getApproval } from "../../kv/approvals.ts";
import { assigneeRefusal } from "../../domain/admin.ts";
import {
  actionsNeedDraft,
  type DisputeDetail,
  disputeDetail,
  type DisputeView,
  disputeView,
} from "./views.ts";
import { isStripeTime } from "../../domain/stripe_time.ts";

export interface DisputeQuery extends DisputeFilters {
  limit: number;
  cursor?: string;
}

/** The same note by the same admin within this long is the same note sent again. */
const NOTE_AGAIN_MS = 60_000;

type ChangeFn = (r: DisputeRecord, op: Deno.AtomicOperation, at: string) => Record<string, unknown>;
/** What the change replaced, for the audit entry's `before` (from the record in the commit). */
type BeforeFn = (r: DisputeRecord) => Record<string, unknown>;

/** A change to the record by an admin (note, assignment), audited in its commit. */
function changeDispute(
  deps: Deps,
  audit: AuditService,
  ctx: CallContext,
  { id, action, apply, before, unchanged }: {
    id: string;
    action: string;
    apply: ChangeFn;
    before?: BeforeFn;
    /** true when the record already is as asked (a second click): answered, nothing written */
    unchanged?: (r: DisputeRecord) => boolean | Promise<boolean>;
  },
) {
  return audit.commit(ctx, async (op) => {
    const entry = await getDispute(deps.kv, id);
    if (!entry.value) throw notFound("dispute", id);
    const r = entry.value;
    if (await unchanged?.(r)) return { value: r, audit: [] };
    const at = new Date(deps.clock.now()).toISOString();
    const next: DisputeRecord = { ...r, updated_at: at };
    const changes = apply(next, op, at);
    next.history = withDisputeHistory(r, { at, by: ctx.actor.id, action, changes });
    addUpdateDispute(op, entry as Deno.KvEntry<DisputeRecord>, next);
    return {
      value: next,
      audit: [{
        action: `dispute.${action}`,
        target: { type: "dispute", id },
        result: "ok" as const,
        ...(before ? { before: before(r) } : {}),
        after: changes,
      }],
    };
  });
}

export function createWorkbench(
  deps: Deps,
  svc: { audit: AuditService; newId: IdFactory; cursors: CursorSealer },
) {
  const { kv, clock } = deps;

  async function load(id: string): Promise<DisputeRecord> {
    const localId = id.startsWith("du_") || id.startsWith("dp_")
      ? (await getDisputeIdByStripe(kv, id)).value
      : id;
    const r = localId ? (await getDispute(kv, localId)).value : null;
    if (r) return r;
    if (localId) throw notFound("dispute", id);
    // Stripe's id, not seen here yet (its webhook late or lost): say how to pull it
    throw new AppError(
      "not_found",
      `no dispute ${id} here yet: if Stripe has it, ` +
        `POST /api/admin/payments/disputes/sync with {"dispute_id":"${id}"} pulls it`,
    );
  }

  /** The accept request's state in the approvals queue (null without one). */
  async function acceptStatusOf(r: DisputeRecord, nowMs: number): Promise<string | null> {
    const approvalId = r.accept_request?.approval_id;
    const a = approvalId ? (await getApproval(kv, approvalId)).value : null;
    if (!a) return null;
    // a request left pending past its expiry no longer waits (accept.ts asks anew)
    return a.status === "pending" && Date.parse(a.expires_at) <= nowMs ? "expired" : a.status;
  }

  /**
   * The detail as `role` sees it: `actions` offers only what that role may do
   * (undefined: everything, for jobs and tests).
   */
  async function detail(record: DisputeRecord, role?: string | null): Promise<DisputeDetail> {
    const r = await withCustomer(kv, record);
    warnUnusableDeadline(r);
    const nowMs = clock.now();
    const [draft, notes, acceptStatus] = await Promise.all([
      getDraft(kv, r.id),
      listNotes(kv, r.id),
      acceptStatusOf(r, nowMs),
    ]);
    return disputeDetail(r, { draft, notes, nowMs, acceptStatus, role });
  }

  /**
   * A record stored before the intake refused unusable times may hold one: it is shown as
   * null (views.ts), and said here so an operator can sync the dispute from Stripe.
   */
  function warnUnusableDeadline(r: DisputeRecord): void {
    const due = r.evidence_due_by;
    if (due === null || due === 0 || isStripeTime(due)) return;
    deps.log.warn("dispute record holds an unusable evidence_due_by; shown as null", {
      dispute_id: r.id,
      stripe_dispute: r.stripe_dispute,
      evidence_due_by: String(due),
      hint: `POST /api/admin/payments/disputes/sync {"dispute_id":"${r.stripe_dispute}"} ` +
        "fetches Stripe's state of it again",
    });
  }

  /** A page of disputes, each row's `actions` as `role` may take them (as on the detail). */
  async function list(q: DisputeQuery, role?: string | null): Promise<Page<DisputeView>> {
    const { limit, cursor, ...filters } = q;
    const page = await listDisputes(kv, svc.cursors, filters, { limit, cursor });
    const nowMs = clock.now();
    const data = await Promise.all(page.data.map(async (r) => {
      warnUnusableDeadline(r);
      const [draft, acceptStatus] = await Promise.all([
        actionsNeedDraft(r, role) ? getDraft(kv, r.id) : null,
        acceptStatusOf(r, nowMs),
      ]);
      return disputeView(r, { nowMs, acceptStatus, draft, role });
    }));
    return { data, next_cursor: page.next_cursor };
  }

  const change = (
    ctx: CallContext,
    id: string,
    action: string,
    apply: ChangeFn,
    before?: BeforeFn,
    unchanged?: (r: DisputeRecord) => boolean | Promise<boolean>,
  ) => changeDispute(deps, svc.audit, ctx, { id, action, apply, before, unchanged });

  async function addNoteTo(ctx: CallContext, id: string, text: string) {
    const r = await load(id);
    const noteId = svc.newId("note");
    const updated = await change(
      ctx,
      r.id,
      "note",
      (_next, op, at) => {
        addNote(op, r.id, { id: noteId, at, by: ctx.actor.id, text });
        return { note_id: noteId, chars: text.length };
      },
      undefined,
      (rec) => sameNoteAgain(rec, ctx.actor.id, text),
    );
    return await detail(updated, ctx.actor.role);
  }

  /**
   * The same text, by the same admin, as their last change to the dispute
   * within a minute: the note sent again (a second click, a retry), not a
   * second note (README, "Dispute workbench").
   */
  async function sameNoteAgain(r: DisputeRecord, by: string, text: string): Promise<boolean> {
    const last = r.history.at(-1);
    const noteId = last?.changes?.note_id;
    if (last?.action !== "note" || last.by !== by || typeof noteId !== "string") return false;
    if (clock.now() - Date.parse(last.at) > NOTE_AGAIN_MS) return false;
    return (await getNote(kv, r.id, noteId))?.text === text;
  }

  async function assign(ctx: CallContext, id: string, assignee: string | null) {
    const r = await load(id);
    if (assignee !== null) {
      const refusal = assigneeRefusal(
        (await getAdmin(kv, assignee)).value,
        assignee,
        "disputes.evidence",
        "work disputes (support or above)",
      );
      if (refusal) throw validationFailed([{ path: "body.assignee", message: refusal }]);
    }
    const updated = await change(
      ctx,
      r.id,
      "assign",
      (next) => {
        next.assignee = assignee;
        return { assignee };
      },
      (was) => ({ assignee: was.assignee }),
      (r) => r.assignee === assignee,
    );
    return await detail(updated, ctx.actor.role);
  }

  return { load, detail, list, addNote: addNoteTo, assign };
}

export type Workbench = ReturnType<typeof createWorkbench>;
