/**
 * Snoozes: a rule raises nothing for a customer until `until`, at most a
 * year ahead (README "Fraud detection": workflow). Audited in its commit.
 */
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { Clock } from "../../core/clock.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { RuleName, Snooze } from "../../domain/fraud.ts";
import { notFound, validationFailed } from "../../core/errors.ts";
import { addSnooze, addSnoozeDelete, getSnooze } from "../../kv/fraud.ts";

/** The longest snooze: a year. */
export const MAX_SNOOZE_MS = 365 * 24 * 3600_000;

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
  return await svc.audit.commit(ctx, (op) => {
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
    return Promise.resolve({
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
