/**
 * The fault suite's plans (README "Testing": fault suite): the steps a run
 * takes (moves, double clicks, faults at a target, webhooks, reconciliation),
 * random and matrix plans, playing them against a world, and quiescence.
 * Shared by tests/fault_suite_test.ts and tests/fault_suite_actions_test.ts.
 */
import { AppError } from "../../core/errors.ts";
import type { RefundWorld } from "./refunds.ts";
import {
  Chaos,
  type Fault,
  FAULTS,
  type FaultTarget,
  ProcessDeath,
  type Rng,
  seeds,
} from "./faults.ts";

export type Step =
  | { kind: "move" }
  | { kind: "burst" }
  | { kind: "fault"; fault: Fault; at: string }
  | { kind: "webhooks" }
  | { kind: "reconcile" }
  /** the clock jumps a minute while Stripe still holds answers: they land after this run */
  | { kind: "early_reconcile" };

export interface Scenario {
  /** where faults land: the money-moving call, the calls before it, the reads that settle it */
  targets: Record<string, FaultTarget>;
  run(seed: number, plan: (r: Rng, targets: string[]) => Step[]): Promise<void>;
}

/**
 * A random plan: 5–14 steps of moves (alone or a double click), faults at
 * any step, webhooks and reconciliation runs.
 */
export function randomPlan(r: Rng, targets: string[]): Step[] {
  return Array.from({ length: 5 + r.int(10) }, (): Step => {
    const k = r.int(12);
    if (k < 4) return { kind: "move" };
    if (k < 5) return { kind: "burst" };
    if (k < 8) return { kind: "fault", fault: r.pick(FAULTS), at: r.pick(targets) };
    return k < 10 ? { kind: "webhooks" } : { kind: "reconcile" };
  });
}

/** One fault at one step, the move, a second move, then the webhooks and reconciliation. */
export function matrixPlan(fault: Fault, at: string) {
  return (): Step[] => [
    { kind: "fault", fault, at },
    { kind: "move" },
    { kind: "move" },
    { kind: "webhooks" },
    { kind: "reconcile" },
  ];
}

/** What the services may answer under faults: never a 500, never an unexpected error. */
export async function tolerate(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (
      e instanceof ProcessDeath || (e instanceof Error && /simulated process death/.test(e.message))
    ) {
      return "died";
    }
    if (e instanceof AppError && e.status !== 500) return e.code;
    throw e;
  }
}

export async function play(
  w: RefundWorld,
  chaos: Chaos,
  steps: Step[],
  trace: string[],
  targets: Record<string, FaultTarget>,
  move: () => Promise<string>,
  reconcile: () => Promise<unknown>,
  beforeBurst?: () => Promise<unknown>,
) {
  for (const s of steps) {
    if (s.kind === "move") trace.push(`move:${await move()}`);
    else if (s.kind === "burst") {
      await beforeBurst?.();
      trace.push(`burst:${await Promise.all([move(), move()])}`);
    } else if (s.kind === "fault") {
      trace.push(s.fault === "death" ? "death" : `${s.fault}@${s.at}`);
      chaos.inject(s.fault, targets[s.at]);
    } else if (s.kind === "webhooks") trace.push(await chaos.webhooks());
    else if (s.kind === "early_reconcile") {
      w.clock.advance(61_000);
      trace.push(`early-reconcile:${await tolerate(reconcile())}`);
    } else {
      await chaos.pass();
      w.clock.advance(61_000);
      trace.push(`reconcile:${await tolerate(reconcile())}`);
    }
  }
}

/** No more faults; everything Stripe did reaches the app through webhooks and reconciliation. */
export async function quiesce(
  w: RefundWorld,
  chaos: Chaos,
  disarm: () => void,
  reconcile: () => Promise<unknown>,
) {
  disarm();
  await chaos.calm();
  for (let i = 0; i < 4; i++) {
    await chaos.deliverAll();
    await chaos.pass();
    w.clock.advance(61_000);
    await reconcile();
  }
  await chaos.deliverAll();
  await chaos.replayAll();
}

/** A fault, the move, then reconciliation runs before the held answers land, then after. */
export function latePlan(fault: Fault, at: string) {
  return (): Step[] => [
    { kind: "fault", fault, at },
    { kind: "move" },
    { kind: "early_reconcile" },
    { kind: "webhooks" },
    { kind: "early_reconcile" },
    { kind: "reconcile" },
  ];
}

/**
 * A random plan in which some reconciliation runs come before the answers
 * Stripe still holds have landed (the clock jumps, Stripe is still working).
 */
export function randomEarlyPlan(r: Rng, targets: string[]): Step[] {
  return randomPlan(r, targets).map((s) =>
    s.kind === "reconcile" && r.chance(0.4) ? { kind: "early_reconcile" } : s
  );
}

/** Stripe still holds the first send when reconciliation sends it again into a fault. */
export function heldThenPlan(at: string, resend: Fault) {
  return (): Step[] => [
    { kind: "fault", fault: "latency", at },
    { kind: "move" },
    { kind: "fault", fault: resend, at },
    { kind: "early_reconcile" },
    { kind: "webhooks" },
    { kind: "early_reconcile" },
    { kind: "reconcile" },
  ];
}

/** A 429 on the resend is the one fault Stripe answers before the held first send's 409. */
const RESENDS = Deno.env.get("FAULT_SEEDS")
  ? ["latency", "server_error", "rate_limit", "lock_timeout"] as const
  : ["rate_limit"] as const;

/**
 * Registers the matrix (each fault at each step once, then a held first send
 * and a faulty resend) and the random seeds, some reconciling early.
 */
export function faultSuite(
  matrix: Record<string, Scenario>,
  random: Record<string, Scenario>,
  shortSeeds: number,
): void {
  for (const [name, scenario] of Object.entries(matrix)) {
    Deno.test(`fault suite: ${name}, every fault at every step`, async () => {
      if (Deno.env.get("FAULT_SEED")) return;
      const [act] = Object.keys(scenario.targets);
      for (const at of Object.keys(scenario.targets)) {
        for (const fault of FAULTS) {
          if (fault === "death" && at !== act) continue;
          await scenario.run(1, matrixPlan(fault, at));
        }
      }
      for (const resend of RESENDS) await scenario.run(2, heldThenPlan(act, resend));
    });
  }
  for (const [name, scenario] of Object.entries(random)) {
    Deno.test(`fault suite: ${name}, random seeds`, async () => {
      for (const seed of seeds(shortSeeds)) await scenario.run(seed, randomEarlyPlan);
    });
  }
}
