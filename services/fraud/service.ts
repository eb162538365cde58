/**
 * The fraud service: detection (live pass, sweeps, analyze), the analysts'
 * workflow (workflow.ts) and rule management (rule_admin.ts) behind one face.
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import { notFound } from "../../core/errors.ts";
import { subjectOf, type SweepRun } from "../../domain/fraud.ts";
import { getRuleSettings, listSweepRuns, readSubjects } from "../../kv/fraud.ts";
import { getTransaction } from "../../kv/transactions.ts";
import { evaluateSubject, ofTransaction } from "./engine.ts";
import { evaluateCards } from "./detect.ts";
import { walkChanges, type WalkOptions } from "./sweep.ts";
import { createWorkflow, type RefundPort } from "./workflow.ts";
import { createRuleAdmin } from "./rule_admin.ts";

export interface FraudServices {
  audit: AuditService;
  newId: IdFactory;
  refunds: RefundPort;
}

export function createFraudService(deps: Deps, svc: FraudServices) {
  const { kv, clock } = deps;
  const raiseDeps = { kv, audit: svc.audit, newId: svc.newId, now: () => clock.now() };

  /** Evaluates without writing anything: `{transaction_id}` or `{customer_id}`. */
  async function analyze(input: { transaction_id?: string; customer_id?: string }) {
    const settings = await getRuleSettings(kv);
    let subject: string | null;
    let txnId: string | null = null;
    if (input.transaction_id) {
      const txn = await getTransaction(kv, input.transaction_id);
      if (!txn) throw notFound("transaction", input.transaction_id);
      txnId = txn.id;
      subject = subjectOf(txn.customer, txn.payment_method?.fingerprint ?? null);
    } else subject = input.customer_id ?? null;
    if (!subject) {
      return { subject: null, transaction_id: txnId, evaluated: 0, signals: [] };
    }
    const [state] = await readSubjects(kv, [subject]);
    if (!txnId && !state.history && !subject.startsWith("card:")) {
      const { value } = await kv.get(["customers", subject]);
      if (!value) throw notFound("customer", subject);
    }
    const pick = txnId ? ofTransaction(txnId) : { attempt: () => true, mark: () => true };
    const e = evaluateSubject(state, settings, pick);
    const cards = await evaluateCards(kv, [e], settings);
    return {
      subject,
      transaction_id: txnId,
      evaluated: e.evaluated,
      signals: [...e.signals, ...cards.flatMap((c) => c.signals)],
    };
  }

  function sweep(options: Omit<WalkOptions, "walker"> = {}): Promise<SweepRun> {
    return walkChanges(raiseDeps, { ...options, walker: "sweep" });
  }

  /** The rules on every payment event: what changed since the last live pass. */
  function live(options: Omit<WalkOptions, "walker"> = {}): Promise<SweepRun> {
    return walkChanges(raiseDeps, { ...options, walker: "live" });
  }

  async function listSweeps(limit: number): Promise<SweepRun[]> {
    const out: SweepRun[] = [];
    for await (const r of listSweepRuns(kv, limit)) out.push(r.value);
    return out;
  }

  return {
    analyze,
    sweep,
    live,
    listSweeps,
    ...createWorkflow(deps, svc),
    ...createRuleAdmin(deps, svc),
  };
}

export type FraudService = ReturnType<typeof createFraudService>;

/** The cron's job function (main.ts registers it with `FRAUD_SWEEP_SCHEDULE`). */
export function runFraudSweep(services: { fraud: FraudService }): Promise<SweepRun> {
  return services.fraud.sweep({ trigger: "cron" });
}

/** The live pass (the job loop and the minute cron run it). */
export function runFraudLive(services: { fraud: FraudService }): Promise<SweepRun> {
  return services.fraud.live({ trigger: "cron" });
}
