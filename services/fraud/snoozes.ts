/**
 * Snoozes: a rule raises nothing for a customer until `until`, at most a
 * year ahead (README "Fraud detection": workflow). Audited in its commit.
 */
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { Clock } from "../../core/clock.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { RuleName, Snooze } from "../../domain/fraud.ts";
import { AppError, notFound, validationFailed } from "../../core/errors.ts";
import { keys } from "../../kv/keys.ts";
import { addSnooze, addSnoozeDelete, getSnooze } from "../../kv/fraud.ts";

/** The longest snooze: a year. */
export const MAX_SNOOZE_MS = 365 * 24 * 3600_000;
/**
 * Snoozes one admin may have in force at once: quieting a rule for many
 * customers is a rule change, which waits for a second admin when it loosens.
 */
export const MAX_ACTIVE_SNOOZES = 20;

type Tally = { snoozes: { id: string; until: number }[] };

/** The admin's snoozes still in force, read to be checked in the same commit. */
async function tallyOf(kv: Deno.Kv, admin: string, now: number) {
  const entry = await kv.get<Tally>(keys.fraudSnoozeTally(admin));
  return { entry, active: (entry.value?.snoozes ?? []).filter((s) => s.until > now) };
}

interface SnoozeParts {
  kv: Deno.Kv;
  clock: Clock;
  svc: { audit: AuditService; newId: IdFactory };
  iso: () => string;
}

export async function createSnooze(
  p: SnoozeParts,
  ctx: CallContext,
  input: { customer: string; rule: RuleName; until: string; note: string },
): Promise<Snooze> {
  const { clock, svc, iso } = p;
  if (Date.parse(input.until) <= clock.now()) {
    throw validationFailed([{ path: "body.until", message: "until must be in the future" }]);
  }
  if (Date.parse(input.until) > clock.now() + MAX_SNOOZE_MS) {
    throw validationFailed([{
      path: "body.until",
      message: "until is at most a year ahead; snooze again when it ends",
    }]);
  }
  return await svc.audit.commit(ctx, async (op) => {
    const tally = await tallyOf(p.kv, ctx.actor.id, clock.now());
    if (tally.active.length >= MAX_ACTIVE_SNOOZES) {
      throw new AppError(
        "conflict",
        `you have ${tally.active.length} snoozes in force, the most one admin may have ` +
          `(${MAX_ACTIVE_SNOOZES}); delete one, or change the rule itself (PUT /fraud/rules/` +
          `${input.rule}: loosening it waits for a second admin)`,
      );
    }
    const snooze: Snooze = {
      id: svc.newId("fsz"),
      customer: input.customer,
      rule: input.rule,
      until: new Date(input.until).toISOString(),
      note: input.note,
      created_by: ctx.actor.id,
      created_at: iso(),
    };
    addSnooze(op, snooze);
    op.check(tally.entry).set(keys.fraudSnoozeTally(ctx.actor.id), {
      snoozes: [...tally.active, { id: snooze.id, until: Date.parse(snooze.until) }],
    });
    return ({
      value: snooze,
      audit: [{
        action: "fraud_snooze.create",
        target: { type: "fraud_snooze", id: snooze.id },
        result: "ok",
        after: { customer: snooze.customer, rule: snooze.rule, until: snooze.until },
        reason: snooze.note,
      }],
    });
  });
}

export async function deleteSnooze(p: SnoozeParts, ctx: CallContext, id: string): Promise<Snooze> {
  const { kv, svc } = p;
  return await svc.audit.commit(ctx, async (op) => {
    const entry = await getSnooze(kv, id);
    if (!entry.value) throw notFound("snooze", id);
    addSnoozeDelete(op, entry as Deno.KvEntry<Snooze>);
    const tally = await tallyOf(kv, entry.value.created_by, p.clock.now());
    op.check(tally.entry).set(keys.fraudSnoozeTally(entry.value.created_by), {
      snoozes: tally.active.filter((s) => s.id !== id),
    });
    return {
      value: entry.value,
      audit: [{
        action: "fraud_snooze.delete",
        target: { type: "fraud_snooze", id },
        result: "ok",
        before: { customer: entry.value.customer, rule: entry.value.rule },
      }],
    };
  });
}
