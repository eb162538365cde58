/**
 * A walk (the live pass, a sweep) evaluates with the rule settings and
 * snoozes it read before it raises, and either may change meanwhile, on this
 * isolate or another: a disable or shadow mode approved by a second admin, a
 * tightening (README "Fraud detection", Tuning), a customer snoozed for the
 * rule. Once such a change has committed, the raise must not land as if it
 * had not: each raise checks, in its commit,
 *
 * - that the rule's stored settings are still the version its signals were
 *   evaluated under; a rule that moved stops the raise with
 *   `RuleSettingsMoved`, and the walk reads the settings again and evaluates
 *   the batch again (sweep.ts);
 * - the rule's snooze tally (every snooze of the rule, made or deleted,
 *   writes it): a signal at a payment the customer's (or card subject's)
 *   snooze of the rule covered, made before it ended, is not raised, and a
 *   snooze made or deleted after the read fails the commit, which is built
 *   again.
 */
import type { RuleName, Signal } from "../../domain/fraud.ts";
import { fraudKeys as keys, getRuleVersion, quietBefore } from "../../kv/fraud.ts";
import { ruleScope, type Tally } from "./snoozes.ts";

export class RuleSettingsMoved extends Error {
  constructor(readonly rule: RuleName, evaluated: number, stored: number) {
    super(`fraud rule ${rule} is at version ${stored}, evaluated under ${evaluated}`);
  }
}

/** What a commit read of a rule (once, however many subjects a group raises). */
interface RuleRead {
  version: number;
  /** snoozes of the rule in force for someone */
  snoozes: boolean;
}

const readIn = new WeakMap<Deno.AtomicOperation, Map<RuleName, RuleRead>>();

async function readRule(kv: Deno.Kv, op: Deno.AtomicOperation, rule: RuleName, now: number) {
  let rules = readIn.get(op);
  if (!rules) readIn.set(op, rules = new Map());
  let read = rules.get(rule);
  if (!read) {
    const [settings, tally] = await Promise.all([
      getRuleVersion(kv, rule),
      kv.get<Tally>(keys.fraudSnoozeTally(ruleScope(rule))),
    ]);
    op.check(settings.entry, tally);
    const snoozes = (tally.value?.snoozes ?? []).some((s) => s.until > now);
    read = { version: settings.version, snoozes };
    rules.set(rule, read);
  }
  return read;
}

/**
 * Which of `signals` of `rule` may still raise for `subject` (a customer, or a
 * card's `card:<fingerprint>`), checked in `op`: none at a payment made before
 * the subject's snooze of the rule ended; `RuleSettingsMoved` when the rule is
 * no longer at the version they were evaluated under (nothing is committed).
 */
export async function ruleStillRaises(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  rule: RuleName,
  signals: Signal[],
  subject: string,
  now: number,
): Promise<Signal[]> {
  const read = await readRule(kv, op, rule, now);
  for (const s of signals) {
    if (s.rule_version !== read.version) {
      throw new RuleSettingsMoved(rule, s.rule_version, read.version);
    }
  }
  // the tally, checked, covers the snoozes' ends too: every snooze made or deleted writes it
  const before = await quietBefore(kv, subject, rule, now, read.snoozes);
  return signals.filter((s) => !snoozedAt(s, before));
}

/**
 * Whether `s` is at a payment made before `quietBefore` (a snooze's end): decided by the
 * payment's Stripe time, so any walk, before or after the snooze ends, decides the same.
 */
export function snoozedAt(s: Signal, quietBefore: number): boolean {
  return Date.parse(s.at) < quietBefore;
}
