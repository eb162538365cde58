/**
 * Raising for many subjects at once (a sweep's batch): the subjects whose
 * signals would add a hit are raised `GROUP_SUBJECTS` at a time in ONE
 * audited commit each, instead of one commit per subject queued one after
 * another on the audit chain. The same alerts, hits and audit entries as
 * `raiseAlerts` subject by subject (alerts.ts): each subject's open alerts
 * are read and checked in the commit, so a lost race builds the whole group
 * again. A group too large for one KV commit is raised subject by subject.
 */
import type { CallContext } from "../../domain/actor.ts";
import type { Signal } from "../../domain/fraud.ts";
import type { AuditInput } from "../audit/mod.ts";
import {
  addRaise,
  type AlertTarget,
  raisable,
  raiseAlerts,
  type RaiseDeps,
  type RaiseInput,
  type RaiseOutcome,
} from "./alerts.ts";

/** Subjects per commit: two checks per rule raised, inside KV's 100 checks per commit for most groups */
const GROUP_SUBJECTS = 12;

export interface RaiseItem {
  target: AlertTarget;
  signals: Signal[];
  snapshotOf: (s: Signal) => Record<string, unknown>;
}

export async function raiseGroup(
  d: RaiseDeps,
  ctx: CallContext,
  items: RaiseItem[],
): Promise<RaiseOutcome> {
  const looked = await Promise.all(items.map(async (it) => ({
    target: it.target,
    snapshotOf: it.snapshotOf,
    candidates: await raisable(d, it.target, it.signals),
  })));
  const out: RaiseOutcome = { raised: 0, hits: 0, alerts: [] };
  for (const group of groups(looked.filter((r) => r.candidates.length > 0))) {
    let r: RaiseOutcome;
    try {
      r = await commitGroup(d, ctx, group);
    } catch (e) {
      if (!tooLarge(e)) throw e;
      r = { raised: 0, hits: 0, alerts: [] };
      for (const g of group) {
        const one = await raiseAlerts(d, ctx, g.target, g.candidates, g.snapshotOf);
        addOutcome(r, one);
      }
    }
    addOutcome(out, r);
  }
  return out;
}

/** Groups of at most `GROUP_SUBJECTS`, a subject at most once in each (its alerts are read once). */
function groups(inputs: RaiseInput[]): RaiseInput[][] {
  const out: RaiseInput[][] = [];
  let left = inputs;
  while (left.length > 0) {
    const group: RaiseInput[] = [];
    const subjects = new Set<string>();
    const later: RaiseInput[] = [];
    for (const r of left) {
      if (group.length < GROUP_SUBJECTS && !subjects.has(r.target.subject)) {
        group.push(r);
        subjects.add(r.target.subject);
      } else later.push(r);
    }
    out.push(group);
    left = later;
  }
  return out;
}

function commitGroup(d: RaiseDeps, ctx: CallContext, group: RaiseInput[]) {
  return d.audit.commit(ctx, async (op) => {
    const now = d.now();
    const value: RaiseOutcome = { raised: 0, hits: 0, alerts: [] };
    const audit: AuditInput[] = [];
    for (const input of group) {
      const r = await addRaise(d, op, input, now);
      addOutcome(value, r.outcome);
      audit.push(...r.audit);
    }
    return { value, audit };
  });
}

/** KV refuses a commit over its mutation count or size before writing anything. */
function tooLarge(e: unknown): boolean {
  return e instanceof TypeError && /too large|too many|exceed/i.test(e.message);
}

function addOutcome(into: RaiseOutcome, r: RaiseOutcome): void {
  into.raised += r.raised;
  into.hits += r.hits;
  into.alerts.push(...r.alerts);
}
