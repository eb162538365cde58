/**
 * A walker's lease (README "Fraud detection", When rules run): one sweep runs
 * at a time, and a run begins (its cursor, its start time) in the commit that
 * claims the lease, so runs never overlap and each starts where the previous
 * one ended. A rule change since the last whole sweep (`RescanMark`) makes
 * the run walk every subject's kept history from the start.
 */
import type { SweepRun } from "../../domain/fraud.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import {
  addSweepRun,
  addWalkLeaseClaim,
  getCursor,
  getRescan,
  getSweepRun,
  readWalkLease,
  type RescanMark,
  type WalkLease,
} from "../../kv/fraud.ts";
import type { RaiseDeps } from "./alerts.ts";
import type { AuditInput } from "../audit/mod.ts";

/**
 * A manual sweep's audit entry: appended in the commit that claims the lease
 * and records the run, so nothing naming the run (a refusal of another) lands
 * before it.
 */
export interface StartAudit {
  ctx: CallContext;
  entry: (run: SweepRun) => AuditInput;
}

/**
 * A recorded walk (a sweep) claims its lease, reads the cursor and the rescan
 * mark (both checked), begins its run there (from the start when a rule
 * changed since the last whole sweep), records it and appends its start entry
 * (`startAudit`) in ONE commit: whoever finds the lease held finds the run
 * recorded, and a refusal naming it lands after its start. A walker that died
 * leaves its lease until it runs out. Returns the rescan mark read.
 */
export async function claimRecorded(
  d: RaiseDeps,
  walker: string,
  startAudit: StartAudit | undefined,
  run: SweepRun,
  lease: () => WalkLease,
  begin: (cursor: [number, string] | null) => void,
): Promise<Deno.KvEntryMaybe<RescanMark>> {
  let rescan: Deno.KvEntryMaybe<RescanMark> | null = null;
  const claim = async (op: Deno.AtomicOperation) => {
    const held = await readWalkLease(d.kv, walker);
    if (held.value && held.value.until > d.now()) throw await leaseHeld(d.kv, walker, held.value);
    const [cursor, mark] = await Promise.all([getCursor(d.kv, walker), getRescan(d.kv)]);
    op.check(cursor, mark);
    rescan = mark;
    begin(mark.value ? null : cursor.value);
    addWalkLeaseClaim(op, walker, held, lease());
    addSweepRun(op, run);
  };
  if (startAudit) {
    const { ctx, entry } = startAudit;
    await d.audit.commit(ctx, async (op) => {
      await claim(op);
      return { value: null, audit: [entry(run)] };
    });
    return rescan!;
  }
  const op = d.kv.atomic();
  await claim(op);
  if (!(await op.commit()).ok) {
    // another claimed it meanwhile: refused as it would have been a moment later
    const held = (await readWalkLease(d.kv, walker)).value;
    throw await leaseHeld(d.kv, walker, held ?? lease());
  }
  return rescan!;
}

/** The refusal of a walk while another holds the lease: who started that one and when. */
export async function leaseHeld(
  kv: Deno.Kv,
  walker: string,
  holder: WalkLease,
): Promise<AppError> {
  const other = await getSweepRun(kv, holder.run); // a scheduled one: by the schedule
  const by = other
    ? `, started by ${other.started_by ?? "the schedule"} at ${other.started_at}`
    : "";
  return new AppError(
    "conflict",
    `a ${walker} run (${holder.run}${by}) is in progress until ${
      new Date(holder.until).toISOString()
    } at the latest; look at GET /api/admin/payments/fraud/sweeps and try again when it has finished`,
  );
}
