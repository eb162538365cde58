/**
 * A walk (the live pass, a sweep) evaluates with the rule settings it read
 * when it started, and a rule may change meanwhile: a disable or shadow mode
 * approved by a second admin, on this isolate or another, a tightening
 * (README "Fraud detection", Tuning). Once that change has committed, the old
 * version raises nothing: each raise checks, in its commit, that the rule's
 * stored settings are still the version its signals were evaluated under. A
 * rule that moved stops the raise with `RuleSettingsMoved`, and the walk reads
 * the settings again and evaluates the batch again (sweep.ts).
 */
import type { RuleName, Signal } from "../../domain/fraud.ts";
import { getRuleVersion } from "../../kv/fraud.ts";

export class RuleSettingsMoved extends Error {
  constructor(readonly rule: RuleName, evaluated: number, stored: number) {
    super(`fraud rule ${rule} is at version ${stored}, evaluated under ${evaluated}`);
  }
}

/** Per commit: each rule's stored version, read and checked once (a group raises many subjects). */
const checkedIn = new WeakMap<Deno.AtomicOperation, Map<RuleName, number>>();

/**
 * Checks in `op` that `rule` is still at the version `signals` were evaluated under, or throws
 * `RuleSettingsMoved` (nothing is committed).
 */
export async function checkRuleVersion(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  rule: RuleName,
  signals: Signal[],
): Promise<void> {
  let stored = checkedIn.get(op);
  if (!stored) checkedIn.set(op, stored = new Map());
  let version = stored.get(rule);
  if (version === undefined) {
    const read = await getRuleVersion(kv, rule);
    op.check(read.entry);
    version = read.version;
    stored.set(rule, version);
  }
  for (const s of signals) {
    if (s.rule_version !== version) throw new RuleSettingsMoved(rule, s.rule_version, version);
  }
}
