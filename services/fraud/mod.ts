/** The fraud domain's face: what the rest of the service may use of it. */
export { createFraudService, runFraudLive, runFraudSweep } from "./service.ts";
export type { FraudService } from "./service.ts";
export type { RefundPort } from "./workflow.ts";
export type { BacktestResult, RulePatch } from "./rule_admin.ts";
export { SweepCrash, WALK_LAG_MS } from "./sweep.ts";
export { evaluateSubject } from "./engine.ts";
