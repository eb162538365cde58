/**
 * The fraud service: detection (live pass, sweeps, analyze), the analysts'
 * workflow (workflow.ts) and rule management (rule_admin.ts) behind one face.
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CursorSealer, Page } from "../../kv/pagination.ts";
import type { ApprovalService } from "../approvals/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { RuleName, RuleSettings } from "../../domain/fraud.ts";
import { AppError, validationFailed } from "../../core/errors.ts";
import { loosenedFields, pauseErrors, ruleChangeErrors } from "../../domain/fraud_rule_change.ts";
import { bindParts } from "../../core/bind.ts";
import { subjectOf, type SweepRun } from "../../domain/fraud.ts";
import { getRuleSettings, listSweepRuns, readSubjects } from "../../kv/fraud.ts";
import { getTransaction } from "../../kv/transactions.ts";
import { unknownTransaction } from "../../domain/transaction.ts";
import { evaluateSubject, ofTransaction } from "./engine.ts";
import { evaluateCards, evaluateCardSubject } from "./detect.ts";
import { walkChanges, type WalkOptions } from "./sweep.ts";
import { createWorkflow, type RefundPort } from "./workflow.ts";
import { createRuleAdmin, type RuleApprovalKind, type RulePatch, ruleView } from "./rule_admin.ts";
import { auditRefusal } from "./denied.ts";
import { inRuleHistory, requestRuleChangeOnce, type RuleRequestParts } from "./rule_requests.ts";
import { mustKnowSubject } from "./subjects.ts";

export interface FraudServices {
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
  refunds: RefundPort;
  approvals: ApprovalService;
}

export function createFraudService(deps: Deps, svc: FraudServices) {
  const { kv, clock } = deps;
  const raiseDeps = { kv, audit: svc.audit, newId: svc.newId, now: () => clock.now() };

  function sweep(options: Omit<WalkOptions, "walker"> = {}): Promise<SweepRun> {
    return walkChanges(raiseDeps, { ...options, walker: "sweep" });
  }

  /** `POST /fraud/sweeps`: a sweep now, audited with who started it (a refusal: denied). */
  function startSweep(ctx: CallContext): Promise<SweepRun> {
    const entry = { action: "fraud_sweep.start", target: null, after: { trigger: "manual" } };
    return auditRefusal(svc.audit, ctx, entry, () =>
      sweep({
        trigger: "manual",
        startedBy: ctx.actor.id,
        // in the commit that claims the lease and records the run (sweep.ts)
        startAudit: {
          ctx,
          entry: (run) => ({
            ...entry,
            target: { type: "fraud_sweep", id: run.id },
            result: "ok",
            after: { trigger: "manual", cursor_from: run.cursor_from },
          }),
        },
      }));
  }

  /**
   * The rules on every payment event: what changed since the last live pass
   * (null when another pass is running: it will see the same changes).
   */
  async function live(options: Omit<WalkOptions, "walker"> = {}): Promise<SweepRun | null> {
    try {
      return await walkChanges(raiseDeps, { ...options, walker: "live" });
    } catch (e) {
      if (e instanceof AppError && e.code === "conflict") return null;
      throw e;
    }
  }

  /** `GET /fraud/sweeps`: one page of runs, newest first (README "API": lists). */
  function listSweeps(q: { limit: number; cursor?: string }): Promise<Page<SweepRun>> {
    return listSweepRuns(kv, svc.cursors, q);
  }

  const rules = createRuleAdmin(deps, svc);
  const requests = { kv, now: () => clock.now(), audit: svc.audit, approvals: svc.approvals };
  const ruleParts: RuleParts = { kv, approvals: svc.approvals, rules, requests };
  registerRuleApprovals(ruleParts);

  return {
    analyze: bindParts(kv, analyze),
    putRule: bindParts(ruleParts, putRule),
    sweep,
    startSweep,
    live,
    listSweeps,
    ...createWorkflow(deps, svc),
    listRules: rules.listRules,
    rulesPage: rules.rulesPage,
    backtest: rules.backtest,
  };
}

/** Evaluates without writing anything: `{transaction_id}` or `{customer_id}`. */
async function analyze(
  kv: Deps["kv"],
  input: { transaction_id?: string; customer_id?: string },
) {
  const settings = await getRuleSettings(kv);
  let subject: string | null;
  let txnId: string | null = null;
  if (input.transaction_id) {
    const txn = await getTransaction(kv, input.transaction_id);
    if (!txn) throw unknownTransaction(input.transaction_id, "body.transaction_id");
    txnId = txn.id;
    subject = subjectOf(txn.customer, txn.payment_method?.fingerprint ?? null);
  } else subject = input.customer_id ?? null;
  if (!subject) {
    return { subject: null, transaction_id: txnId, evaluated: 0, signals: [] };
  }
  const [state] = await readSubjects(kv, [subject]);
  // a customer or card unknown here: 404, as a snooze's (README "Fraud detection", When rules run)
  if (!txnId && !state.history) await mustKnowSubject(kv, subject, "body.customer_id");
  const pick = txnId ? ofTransaction(txnId) : { attempt: () => true, mark: () => true };
  const e = evaluateSubject(state, settings, pick);
  // a card's subject: the declines of its customers too, which its own payments (without a
  // customer) never hold, as the walks check them (README "Fraud detection", When rules run)
  const cards = !txnId && subject.startsWith("card:")
    ? await evaluateCardSubject(kv, subject.slice("card:".length), settings)
    : await evaluateCards(kv, [e], settings);
  return {
    subject,
    transaction_id: txnId,
    evaluated: e.evaluated,
    signals: [...e.signals, ...cards.flatMap((c) => c.signals)],
  };
}

type RuleAdmin = ReturnType<typeof createRuleAdmin>;

interface RuleParts {
  kv: Deps["kv"];
  approvals: ApprovalService;
  rules: RuleAdmin;
  requests: RuleRequestParts;
}

/** Approving a request to disable, shadow or loosen a rule applies the change. */
function registerRuleApprovals({ approvals, rules }: RuleParts) {
  for (const kind of ["fraud.rule_disable", "fraud.rule_shadow", "fraud.rule_loosen"] as const) {
    approvals.register(kind, {
      history: inRuleHistory,
      execute: async (_deps, request, ctx) => {
        const p = request.payload as { rule: RuleName; patch: RulePatch; base_version: number };
        const next = await rules.applyRuleChange(ctx, p.rule, p.patch, p.base_version, request);
        return { rule: p.rule, version: next.version, enabled: next.enabled, shadow: next.shadow };
      },
    });
  }
}

const SUMMARY: Record<RuleApprovalKind, string> = {
  "fraud.rule_disable": "disable",
  "fraud.rule_shadow": "shadow mode for",
  "fraud.rule_loosen": "loosen",
};

/** Equal settings, whatever the order of their keys. */
function sameSettings(a: RuleSettings, b: RuleSettings): boolean {
  const canon = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])
      : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

/**
 * `PUT /fraud/rules/{rule}`: a new version at once (200), or, when it
 * disables the rule, puts it in shadow mode or loosens it, a request a second
 * person approves (202). Settings that contradict each other are refused
 * (422). Either way the change applies to the version it was judged against.
 */
async function putRule(
  parts: RuleParts,
  ctx: CallContext,
  rule: RuleName,
  patch: RulePatch,
) {
  const { kv, rules } = parts;
  const current = (await getRuleSettings(kv))[rule];
  const errors = [...pauseErrors(current, patch), ...ruleChangeErrors(current, patch)];
  if (errors.length) throw validationFailed(errors);
  // a change that changes nothing makes no version (and voids no request waiting on this one)
  if (sameSettings(current, { ...current, ...patch })) {
    return { status: 200 as const, rule: ruleView(current) };
  }
  const kind = rules.needsSecondPerson(current, patch);
  if (kind) {
    const loosened = loosenedFields(current, patch);
    const fields = kind === "fraud.rule_loosen" ? ` (${loosened.join(", ")})` : "";
    const approval = await requestRuleChangeOnce(
      parts.requests,
      ctx,
      kind,
      { rule, patch, base_version: current.version },
      `${SUMMARY[kind]} fraud rule ${rule}${fields} (version ${current.version})`,
    );
    return { status: 202 as const, approval };
  }
  const next = await rules.applyRuleChange(ctx, rule, patch, current.version);
  return { status: 200 as const, rule: ruleView(next) };
}

export type FraudService = ReturnType<typeof createFraudService>;

/** The cron's job function (main.ts registers it with `FRAUD_SWEEP_SCHEDULE`). */
export function runFraudSweep(services: { fraud: FraudService }): Promise<SweepRun> {
  return services.fraud.sweep({ trigger: "cron" });
}

/** The live pass (the job loop and the minute cron run it). */
export function runFraudLive(services: { fraud: FraudService }): Promise<SweepRun | null> {
  return services.fraud.live({ trigger: "cron" });
}
