/**
 * Snoozes: a rule raises nothing for a customer, or for a card alert's
 * subject (`card:<fingerprint>`), until `until`, at most a year ahead (README
 * "Fraud detection": workflow). Audited in its commit. Decided by the
 * payment's time: a payment made before the snooze ended (its `until`, or
 * when it was deleted) raises nothing of the rule, whenever a walk evaluates
 * it, so the snooze's end is kept past it (`SNOOZE_KEPT_MS`).
 */
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { Clock } from "../../core/clock.ts";
import { byWhom, type CallContext } from "../../domain/actor.ts";
import type { RuleName, Snooze } from "../../domain/fraud.ts";
import { AppError, notFound, validationFailed } from "../../core/errors.ts";
import { keys } from "../../kv/keys.ts";
import {
  addSnooze,
  addSnoozeDelete,
  addSnoozeQuiet,
  getSnooze,
  getSnoozeQuiet,
  listSnoozes as listSnoozePage,
  snoozeInForce,
  type SnoozeQuery,
} from "../../kv/fraud.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import { mustKnowSubject } from "./subjects.ts";
import { auditRefusal } from "./denied.ts";
import { latestEntryAbout } from "../../kv/audit.ts";
import { JUDGED_MARGIN_MS, MAX_WINDOW_MS } from "./judged.ts";

/** The longest snooze: a year. */
export const MAX_SNOOZE_MS = 365 * 24 * 3600_000;
/**
 * Snoozes one admin may have in force at once: quieting a rule for many
 * customers is a rule change, which waits for a second admin when it loosens.
 */
export const MAX_ACTIVE_SNOOZES = 20;
/** Snoozes of one rule in force at once, whoever made them (one person may hold several accounts). */
export const MAX_RULE_SNOOZES = 50;
/**
 * How long a snooze's end is kept after it: a payment made before it is evaluated again only
 * while a window can hold it (the longest window), or when counted late (the margin), as what
 * an alert judged is kept (README "Fraud detection": alerts).
 */
export const SNOOZE_KEPT_MS = MAX_WINDOW_MS + JUDGED_MARGIN_MS;

/** Whose snoozes a tally counts: an admin's, or a rule's. */
export const ruleScope = (rule: string) => `rule:${rule}`;

export type Tally = { snoozes: { id: string; until: number }[] };

/** The snoozes still in force of an admin or a rule, read to be checked in the same commit. */
async function tallyOf(kv: Deno.Kv, scope: string, now: number) {
  const entry = await kv.get<Tally>(keys.fraudSnoozeTally(scope));
  return { scope, entry, active: (entry.value?.snoozes ?? []).filter((s) => s.until > now) };
}

function addTally(
  op: Deno.AtomicOperation,
  tally: Awaited<ReturnType<typeof tallyOf>>,
  snoozes: Tally["snoozes"],
): void {
  op.check(tally.entry).set(keys.fraudSnoozeTally(tally.scope), { snoozes });
}

interface SnoozeParts {
  kv: Deno.Kv;
  clock: Clock;
  svc: { audit: AuditService; newId: IdFactory; cursors: CursorSealer };
  iso: () => string;
}

export async function createSnooze(
  p: SnoozeParts,
  ctx: CallContext,
  input: { customer: string; rule: RuleName; until: string; note: string },
): Promise<Snooze> {
  const { clock, svc } = p;
  // a snooze for a subject this service has never seen (a typo) would quiet nothing; asked
  // first, as for a refund's payment, so an example id is a 404 whatever else the body says
  await mustKnowSubject(p.kv, input.customer);
  if (Date.parse(input.until) <= clock.now()) {
    throw validationFailed([{ path: "body.until", message: "until must be in the future" }]);
  }
  if (Date.parse(input.until) > clock.now() + MAX_SNOOZE_MS) {
    throw validationFailed([{
      path: "body.until",
      message: "until is at most a year ahead; snooze again when it ends",
    }]);
  }
  const asked = { customer: input.customer, rule: input.rule, until: input.until };
  // a refusal names what it was about, so the audit log's target filter finds it
  const entry = {
    action: "fraud_snooze.create",
    target: subjectTarget(input.customer),
    after: asked,
  };
  return await auditRefusal(svc.audit, ctx, entry, () => commitSnooze(p, ctx, input));
}

/** An audit target for a snooze's subject: a customer, or a card (`card:<fingerprint>`). */
function subjectTarget(subject: string) {
  return { type: subject.startsWith("card:") ? "card" : "customer", id: subject };
}

/** `input` by `ctx`'s admin is the request that made `s`: customer, rule, until and note. */
function isSameSnooze(
  s: Snooze,
  input: { customer: string; rule: RuleName; until: string; note: string },
  ctx: CallContext,
): boolean {
  return s.created_by === ctx.actor.id && s.customer === input.customer &&
    s.rule === input.rule && s.until === new Date(input.until).toISOString() &&
    s.note === input.note;
}

async function commitSnooze(
  p: SnoozeParts,
  ctx: CallContext,
  input: { customer: string; rule: RuleName; until: string; note: string },
): Promise<Snooze> {
  const { clock, svc, iso } = p;
  return await svc.audit.commit(ctx, async (op) => {
    const tally = await tallyOf(p.kv, ctx.actor.id, clock.now());
    const ofRule = await tallyOf(p.kv, ruleScope(input.rule), clock.now());
    // one snooze in force per customer and rule, whoever made it: a second click (or a burst)
    // would make another, and deleting one would leave the rule quiet. Every snooze of the
    // rule checks its tally in its commit, so this read cannot miss a concurrent one.
    const existing = await snoozeInForce(p.kv, input.customer, input.rule, clock.now());
    // the same snooze sent again by whoever made it (a second click, a burst): the one in force
    // as the first answered it, nothing written, nothing denied (README "Fraud detection")
    if (existing && isSameSnooze(existing, input, ctx)) return { value: existing, audit: [] };
    if (existing) {
      throw new AppError(
        "conflict",
        `${input.customer} is already snoozed for ${input.rule} until ${existing.until} ` +
          `(${existing.id}, ${
            byWhom(existing.created_by, existing.created_at, ctx)
          }); to change it, delete that one ` +
          `(DELETE /api/admin/payments/fraud/snoozes/${existing.id}) and snooze again`,
      );
    }
    if (ofRule.active.length >= MAX_RULE_SNOOZES) {
      throw new AppError(
        "conflict",
        `rule ${input.rule} is snoozed for ${ofRule.active.length} customers, the most at once ` +
          `(${MAX_RULE_SNOOZES}); quieting it that broadly is a rule change (PUT /api/admin/payments/fraud/rules/` +
          `${input.rule}: loosening it waits for a second admin)`,
      );
    }
    if (tally.active.length >= MAX_ACTIVE_SNOOZES) {
      throw new AppError(
        "conflict",
        `you have ${tally.active.length} snoozes in force, the most one admin may have ` +
          `(${MAX_ACTIVE_SNOOZES}); delete one, or change the rule itself (PUT /api/admin/payments/fraud/rules/` +
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
    addSnooze(op, snooze, clock.now());
    // payments made before it ends raise nothing of the rule, however late they are evaluated
    const quiet = await getSnoozeQuiet(p.kv, snooze.customer, snooze.rule);
    const until = Math.max(quiet.value?.until ?? 0, Date.parse(snooze.until));
    addSnoozeQuiet(
      op,
      quiet,
      snooze.customer,
      snooze.rule,
      {
        until,
        snooze: snooze.id,
      },
      clock.now(),
      SNOOZE_KEPT_MS,
    );
    const mark = { id: snooze.id, until: Date.parse(snooze.until) };
    addTally(op, tally, [...tally.active, mark]);
    addTally(op, ofRule, [...ofRule.active, mark]);
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

/** The snoozes in force, newest first, a page at a time (README "API": lists). */
export function listSnoozes(p: SnoozeParts, q: SnoozeQuery): Promise<Page<Snooze>> {
  return listSnoozePage(p.kv, p.svc.cursors, q, p.clock.now());
}

/**
 * 404 for a snooze not in force; when its deletion is on record (a second
 * click, someone else first), it says who deleted it and when.
 */
async function goneSnooze(kv: Deno.Kv, ctx: CallContext, id: string): Promise<AppError> {
  const last = id.startsWith("fsz_") ? await latestEntryAbout(kv, id) : null;
  if (last?.action !== "fraud_snooze.delete" || last.result !== "ok") {
    return notFound("snooze", id);
  }
  return new AppError(
    "not_found",
    `no snooze ${id} in force: it was deleted ${byWhom(last.actor.id, last.at_iso, ctx)}`,
  );
}

export async function deleteSnooze(p: SnoozeParts, ctx: CallContext, id: string): Promise<Snooze> {
  const { kv, svc } = p;
  return await svc.audit.commit(ctx, async (op) => {
    const entry = await getSnooze(kv, id);
    if (!entry.value) throw await goneSnooze(kv, ctx, id);
    addSnoozeDelete(op, entry as Deno.KvEntry<Snooze>);
    // it ends now: payments made until now stay quiet, later ones raise (its `until` if it ran
    // out before, a record stored before snoozes expired by themselves)
    const { customer, rule } = entry.value;
    const now = p.clock.now();
    const end = Math.min(Date.parse(entry.value.until), now);
    const quiet = await getSnoozeQuiet(kv, customer, rule);
    const other = quiet.value && quiet.value.snooze !== id ? quiet.value.until : 0;
    addSnoozeQuiet(
      op,
      quiet,
      customer,
      rule,
      {
        until: Math.max(end, other),
        snooze: id,
      },
      now,
      SNOOZE_KEPT_MS,
    );
    for (const scope of [entry.value.created_by, ruleScope(entry.value.rule)]) {
      const tally = await tallyOf(kv, scope, p.clock.now());
      addTally(op, tally, tally.active.filter((s) => s.id !== id));
    }
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
