/**
 * Rule management: the settings of every rule (stored, or the defaults),
 * changes that are versioned and audited, a second person for disabling a
 * rule, putting it in shadow mode or loosening it (the approvals queue), and a backtest of
 * proposed settings over the last N days that writes nothing.
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { ApprovalRequest } from "../../domain/approval.ts";
import { AppError, validationFailed } from "../../core/errors.ts";
import { loosenedFields, pauseErrors, ruleChangeErrors } from "../../domain/fraud_rule_change.ts";
import { bindParts } from "../../core/bind.ts";
import type { CursorSealer } from "../../kv/pagination.ts";
import {
  defaultRuleSettings,
  RULE_NAMES,
  type RuleName,
  type RuleSettings,
  type RuleSettingsMap,
} from "../../domain/fraud.ts";
import {
  addRescan,
  addRuleVersion,
  countShadowHits,
  fraudKeys as keys,
  getRuleSettings,
  listChanges,
  readSubjects,
} from "../../kv/fraud.ts";
import { evaluateSubject, type Evaluation, needsCustomerAge, type Selection } from "./engine.ts";
import type { FraudHistory } from "../../domain/fraud_history.ts";
import { evaluateCards } from "./detect.ts";

/** What `PUT /fraud/rules/{rule}` may change. */
export type RulePatch = Partial<
  Pick<
    RuleSettings,
    | "enabled"
    | "shadow"
    | "window_minutes"
    | "watch_at"
    | "watch_points"
    | "alert_at"
    | "alert_points"
    | "severity"
    | "amounts"
    | "watch_amounts"
    | "extra_at"
    | "min_ratio"
  >
>;

const AMOUNT_RULES: RuleName[] = ["high_value_burst", "new_customer_high_value"];

/** A rule as `GET /fraud/rules` shows it: its settings and what they mean for currencies. */
export function ruleView(s: RuleSettings) {
  const amounts = AMOUNT_RULES.includes(s.rule);
  return {
    ...s,
    currencies: amounts
      ? {
        configured: Object.keys(s.amounts).sort(),
        note: "the rule is off for a currency without a configured amount",
      }
      : null,
  };
}

export type RuleApprovalKind = "fraud.rule_disable" | "fraud.rule_shadow" | "fraud.rule_loosen";

/**
 * A change that switches a rule off, into shadow mode, or loosens it (README
 * "Two-person rules") needs a second person.
 */
export function needsSecondPerson(
  current: RuleSettings,
  patch: RulePatch,
): RuleApprovalKind | null {
  if (patch.enabled === false && current.enabled) return "fraud.rule_disable";
  if (patch.shadow === true && !current.shadow) return "fraud.rule_shadow";
  if (loosenedFields(current, patch).length > 0) return "fraud.rule_loosen";
  return null;
}

export interface BacktestResult {
  days: number;
  subjects_scanned: number;
  payments_evaluated: number;
  proposed: { alerts: number; customers: number; by_rule: Record<string, number> };
  current: { alerts: number; customers: number; by_rule: Record<string, number> };
  overlap: { alerts: number; customers: number };
  only_proposed: string[];
  only_current: string[];
}

function alertKeys(evals: Evaluation[], cards: { fingerprint: string; signals: unknown[] }[]) {
  const keys = new Set<string>();
  for (const e of evals) {
    for (const s of e.signals) {
      if (s.level === "alert" && !s.shadow) keys.add(`${e.subject}|${s.rule}`);
    }
  }
  for (const c of cards) {
    const live = (c.signals as { shadow: boolean }[]).some((s) => !s.shadow);
    if (live) keys.add(`card:${c.fingerprint}|failed_attempts`);
  }
  return keys;
}

function summary(keys: Set<string>) {
  const by: Record<string, number> = {};
  const customers = new Set<string>();
  for (const k of keys) {
    const [subject, rule] = k.split("|");
    by[rule] = (by[rule] ?? 0) + 1;
    customers.add(subject);
  }
  return { alerts: keys.size, customers: customers.size, by_rule: by };
}

interface RuleAdminParts {
  kv: Deps["kv"];
  clock: Deps["clock"];
  audit: AuditService;
  cursors: CursorSealer;
}

export function createRuleAdmin(deps: Deps, svc: { audit: AuditService; cursors: CursorSealer }) {
  const parts: RuleAdminParts = {
    kv: deps.kv,
    clock: deps.clock,
    audit: svc.audit,
    cursors: svc.cursors,
  };
  return {
    listRules: bindParts(parts, listRules),
    rulesPage: bindParts(parts, rulesPage),
    applyRuleChange: bindParts(parts, applyRuleChange),
    backtest: bindParts(parts, backtest),
    needsSecondPerson,
  };
}

/** Every rule; one in shadow mode also says how many would-be alerts it recorded (90 days). */
async function listRules({ kv }: RuleAdminParts, names: readonly RuleName[] = RULE_NAMES) {
  const settings = await getRuleSettings(kv);
  return await Promise.all(names.map(async (r) => ({
    ...ruleView(settings[r]),
    shadow_hits: settings[r].shadow ? await countShadowHits(kv, r) : null,
  })));
}

/**
 * `GET /fraud/rules`: a list like every other (README "API": lists), the rules in their fixed
 * order; the cursor is the last rule of the page, sealed. The default limit holds them all.
 */
async function rulesPage(p: RuleAdminParts, q: { limit: number; cursor?: string }) {
  const after = q.cursor ? await p.cursors.unseal(RULES_SCOPE, q.cursor) : null;
  const at = after === null ? -1 : RULE_NAMES.indexOf(after as RuleName);
  if (after !== null && at < 0) {
    throw validationFailed([{
      path: "query.cursor",
      message: `rule ${after} is no longer one of the rules; omit it to start from the first page`,
    }]);
  }
  const names = RULE_NAMES.slice(at + 1, at + 1 + q.limit);
  const more = at + 1 + names.length < RULE_NAMES.length;
  return {
    data: await listRules(p, names),
    next_cursor: more ? await p.cursors.seal(RULES_SCOPE, names[names.length - 1]) : null,
  };
}

const RULES_SCOPE = "fraud_rules";

/**
 * Applies `patch` as a new version, audited. Approvals call this as the approver with the
 * request (`approved`): the entry names it and who asked (README "Two-person rules"); a change
 * applied at once was asked for by whoever made it and names no request.
 */
async function applyRuleChange(
  { kv, clock, audit }: RuleAdminParts,
  ctx: CallContext,
  rule: RuleName,
  patch: RulePatch,
  baseVersion?: number,
  approved?: Pick<ApprovalRequest, "id" | "requested_by">,
): Promise<RuleSettings> {
  return await audit.commit(ctx, async (op) => {
    const read = await kv.get<RuleSettings>(keys.fraudRule(rule));
    const current = { ...defaultRuleSettings()[rule], ...(read.value ?? {}) };
    if (baseVersion !== undefined && current.version !== baseVersion) {
      throw new AppError(
        "conflict",
        `rule ${rule} changed since the request (version ${current.version}, asked on ` +
          `${baseVersion}); ask again against the current settings`,
      );
    }
    const errors = ruleChangeErrors(current, patch);
    if (errors.length) throw validationFailed(errors);
    const next: RuleSettings = {
      ...current,
      ...patch,
      rule,
      version: current.version + 1,
      updated_at: new Date(clock.now()).toISOString(),
      updated_by: ctx.actor.id,
    };
    addRuleVersion(op, read, next);
    // the next sweep evaluates history under the new version (README "Fraud detection", Tuning);
    // a rule off or in shadow mode raises nothing there (shadow mode watches live traffic)
    if (next.enabled && !next.shadow) {
      addRescan(op, { rule, version: next.version, at: next.updated_at! });
    }
    return {
      value: next,
      audit: [{
        action: "fraud_rule.update",
        target: { type: "fraud_rule", id: rule },
        result: "ok",
        before: current,
        after: {
          ...next,
          approval_id: approved?.id ?? null,
          requested_by: approved?.requested_by ?? ctx.actor.id,
        },
      }],
    };
  });
}

/** Replays the last `days` of payments against `proposed` (and the current settings). */
async function backtest(
  { kv, clock }: RuleAdminParts,
  input: { days: number; rules: Partial<Record<RuleName, RulePatch>> },
): Promise<BacktestResult> {
  const current = await getRuleSettings(kv);
  const proposed: RuleSettingsMap = structuredClone(current);
  const patches = Object.entries(input.rules) as [RuleName, RulePatch][];
  // Settings a PUT would refuse (contradictory, or riding along a pause) are refused here too,
  // with the PUT's message, naming the rule's field.
  const errors = patches.flatMap(([rule, patch]) =>
    [...pauseErrors(current[rule], patch), ...ruleChangeErrors(current[rule], patch)].map((e) => ({
      ...e,
      path: e.path.replace(/^body\./, `body.rules.${rule}.`),
    }))
  );
  if (errors.length) throw validationFailed(errors);
  for (const [rule, patch] of patches) proposed[rule] = { ...proposed[rule], ...patch, rule };
  const from = clock.now() - input.days * 24 * 3600_000;
  const pick: Selection = {
    attempt: (a: { t: number }) => a.t >= from,
    mark: (m: { t: number }) => m.t >= from,
  };
  const ageNow = needsCustomerAge(current, pick);
  const ageNew = needsCustomerAge(proposed, pick);
  const evalsNow: Evaluation[] = [];
  const evalsNew: Evaluation[] = [];
  let subjects = 0;
  let evaluated = 0;
  let batch: string[] = [];
  const flush = async () => {
    const either = (h: FraudHistory) => ageNow(h) || ageNew(h);
    for (const state of await readSubjects(kv, batch, either)) {
      const a = evaluateSubject(state, current, pick);
      const b = evaluateSubject(state, proposed, pick);
      evaluated += a.evaluated;
      // only what can raise or feeds the card check is kept: memory stays bounded
      if (a.signals.length || a.declines.length) evalsNow.push(slim(a));
      if (b.signals.length || b.declines.length) evalsNew.push(slim(b));
    }
    subjects += batch.length;
    batch = [];
  };
  for await (const row of listChanges(kv, null, Number.MAX_SAFE_INTEGER)) {
    batch.push(row.value);
    if (batch.length >= 400) await flush();
  }
  await flush();
  const keysNow = alertKeys(evalsNow, await evaluateCards(kv, evalsNow, current));
  const keysNew = alertKeys(evalsNew, await evaluateCards(kv, evalsNew, proposed));
  const both = new Set([...keysNew].filter((k) => keysNow.has(k)));
  return {
    days: input.days,
    subjects_scanned: subjects,
    payments_evaluated: evaluated,
    proposed: summary(keysNew),
    current: summary(keysNow),
    overlap: { alerts: both.size, customers: summary(both).customers },
    only_proposed: [...keysNew].filter((k) => !keysNow.has(k)).slice(0, 100),
    only_current: [...keysNow].filter((k) => !keysNew.has(k)).slice(0, 100),
  };
}

function slim(e: Evaluation): Evaluation {
  return { ...e, signals: e.signals.filter((s) => s.level === "alert") };
}
