/**
 * The fault suite's tools: a seeded PRNG, every fault the emulator can play
 * (plus the process dying between the two commits), webhooks delivered
 * duplicated, reordered, late or never, and the money check that compares a
 * payment's transaction and its customer's ledger with the emulator's own
 * objects to the cent.
 *
 * Seeds: `FAULT_SEED=n` replays one seed; `FAULT_SEEDS=n` runs n seeds per
 * scenario from `FAULT_SEED_BASE` (random when unset). A failure names its seed.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { allLedgerEntries, listBalances } from "../../kv/customers.ts";
import type { FaultHandle } from "../../emulator/mod.ts";
import type { StripeGateway } from "../../services/stripe/gateway.ts";
import { signPayload } from "../../emulator/mod.ts";
import type { HeldWebhook, RefundWorld } from "./refunds.ts";
import { TEST_WEBHOOK_SECRETS } from "./webhooks.ts";

export const FAULTS = [
  "latency",
  "server_error",
  "rate_limit",
  "lock_timeout",
  "act_then_drop",
  "death",
] as const;
export type Fault = typeof FAULTS[number];

/**
 * The gateway gives up after TIMEOUT_MS; a latency fault holds Stripe's answer past it, until
 * the run lets it land (Chaos.pass), never on a timer: a seed plays the same on a busy machine.
 */
export const TIMEOUT_MS = 400;

export interface Rng {
  next(): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast and the same on every machine. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)], chance: (p) => next() < p };
}

export function seeds(defaultCount: number): number[] {
  const one = Deno.env.get("FAULT_SEED");
  if (one) return [Number(one)];
  const count = Number(Deno.env.get("FAULT_SEEDS") ?? defaultCount);
  const base = Number(Deno.env.get("FAULT_SEED_BASE") ?? Math.floor(Math.random() * 1e9));
  return Array.from({ length: count }, (_, i) => base + i);
}

/** Runs one seed; a failure carries the seed and the steps taken, to replay it. */
export async function withSeed(
  name: string,
  seed: number,
  fn: (r: Rng, trace: string[]) => Promise<void>,
): Promise<void> {
  const trace: string[] = [];
  try {
    await fn(rng(seed), trace);
    if (Deno.env.get("FAULT_TRACE")) console.log(`${name} ${seed}: ${trace.join(" → ")}`);
  } catch (error) {
    const msg = `${name} failed with FAULT_SEED=${seed}\n  steps: ${trace.join(" → ")}`;
    console.error(msg);
    throw new Error(`${msg}\n  ${(error as Error).stack ?? error}`, { cause: error });
  }
}

export class ProcessDeath extends Error {
  constructor() {
    super("simulated process death between the Stripe call and the second commit");
  }
}

/** A gateway that, when armed, lets one matching call reach Stripe and then "dies". */
export function deathGateway(label: RegExp) {
  const state = { armed: false };
  const intercept = (real: StripeGateway): StripeGateway => ({
    async call(fn, options) {
      const result = await real.call(fn, options);
      if (state.armed && label.test(options?.label ?? "")) {
        state.armed = false;
        throw new ProcessDeath();
      }
      return result;
    },
  });
  return { state, intercept };
}

/** Where a fault lands: the call that moves money, or the reads that settle it. */
export interface FaultTarget {
  method: string;
  path: RegExp;
}

/** The faults of one run: injects them, and lets the answers latency holds land. */
export class Chaos {
  #held: FaultHandle[] = [];
  readonly delivered: HeldWebhook[] = [];
  constructor(
    private readonly w: RefundWorld,
    private readonly r: Rng,
    private readonly arm: () => void,
  ) {}

  inject(fault: Fault, target: FaultTarget): void {
    if (fault === "death") return this.arm();
    const handle = this.w.emu.faults.inject({
      kind: fault,
      method: target.method,
      path: target.path,
      // 429s long enough to outlast the gateway's own retries, sometimes
      times: fault === "rate_limit" || fault === "lock_timeout" ? 1 + this.r.int(4) : 1,
      ...(fault === "latency" ? { ms: Infinity } : {}),
    });
    if (fault === "latency") this.#held.push(handle);
  }

  /**
   * Time passes at Stripe too: before the manual clock jumps a minute ahead,
   * the requests the emulator holds land, as Stripe would have finished them
   * within that minute (an early reconciliation jumps without this: they are
   * still held).
   */
  async pass(): Promise<void> {
    const landed = this.#held.filter((h) => h.remaining() === 0);
    if (landed.length === 0) return;
    this.#held = this.#held.filter((h) => h.remaining() > 0);
    await Promise.all(landed.map((h) => h.release()));
    await this.w.emu.deliveries();
  }

  /** Some of the held webhooks, shuffled, some twice, with some old ones delivered again. */
  async webhooks(): Promise<string> {
    const r = this.r;
    const again = this.delivered.filter(() => r.chance(0.15));
    await this.resign([...await this.w.held(), ...again]);
    let n = 0;
    await this.w.deliver((held) => {
      const chosen = held.filter(() => r.chance(0.7));
      for (const h of [...chosen]) if (r.chance(0.3)) chosen.push(h);
      for (const h of chosen) if (!this.delivered.includes(h)) this.delivered.push(h);
      chosen.push(...again);
      for (let i = chosen.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [chosen[i], chosen[j]] = [chosen[j], chosen[i]];
      }
      n = chosen.length;
      return chosen;
    });
    return `webhooks(${n})`;
  }

  /** Every held webhook, in order. */
  async deliverAll(): Promise<void> {
    await this.resign(await this.w.held());
    await this.w.deliver((held) => {
      for (const h of held) if (!this.delivered.includes(h)) this.delivered.push(h);
      return held;
    });
  }

  /** No more faults; the answers still held by latency land at the emulator. */
  async calm(): Promise<void> {
    this.w.emu.faults.clear();
    await this.pass();
    await this.w.emu.deliveries();
  }

  /** Every webhook ever sent delivered once more, in reverse: nothing may change. */
  async replayAll(): Promise<void> {
    const again = [...this.delivered].reverse();
    await this.resign(again);
    await this.w.deliver(() => again);
  }

  /**
   * Stripe signs each delivery attempt when it sends it: a late or repeated
   * delivery carries a fresh timestamp, within the app's signature tolerance.
   */
  async resign(hooks: HeldWebhook[]): Promise<void> {
    const at = Math.floor(this.w.clock.now() / 1000);
    for (const h of hooks) h.signature = await signPayload(h.body, TEST_WEBHOOK_SECRETS[0], at);
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** The transaction and its customer's ledger and balance equal the emulator's objects. */
export async function assertMoneyMatchesStripe(
  w: RefundWorld,
  pi: string,
  customer: string,
  txnId: string,
): Promise<void> {
  const charges = (await w.stripe.charges.list({ payment_intent: pi, limit: 100 })).data;
  const paid = charges.filter((c) => c.status === "succeeded");
  const captured = sum(paid.map((c) => c.amount_captured));
  // a charge's amount_refunded also shows what a partial capture or a cancel released (no
  // refund object): that money was never charged, so it is no refund
  const released = (c: Stripe.Charge) =>
    c.captured ? c.amount - c.amount_captured : c.amount_refunded;
  const refunded = sum(charges.map((c) => c.amount_refunded - released(c)));
  // (0 - x, not -x: an empty sum must compare equal to 0, not -0)
  const disputes: Stripe.Dispute[] = [];
  for (const c of charges) {
    disputes.push(...(await w.stripe.disputes.list({ charge: c.id, limit: 100 })).data);
  }
  const withdrawn = 0 - sum(disputes.flatMap((d) => d.balance_transactions.map((b) => b.amount)));
  const txn = await w.t.services.transactions.get(txnId);
  assert.equal(txn.amount_captured, captured, "transaction captured == Stripe");
  assert.equal(txn.amount_refunded, refunded, "transaction refunded == Stripe");
  assert.equal(txn.amount_reserved, 0, "nothing reserved after quiescence");
  assert.equal(txn.amount_disputed, withdrawn, "transaction disputed == Stripe");
  const ledger = (await allLedgerEntries(w.t.kv, customer)).filter((e) =>
    e.transaction_id === txnId
  );
  const by = (...types: string[]) =>
    sum(ledger.filter((e) => types.includes(e.type)).map((e) => e.amount));
  assert.equal(by("payment"), captured, "ledger payments == Stripe");
  assert.equal(by("refund", "refund_reversal"), 0 - refunded, "ledger refunds == Stripe");
  assert.equal(
    by("dispute_withdrawal", "dispute_reinstatement"),
    0 - withdrawn,
    "ledger disputes == Stripe",
  );
  const balance = (await listBalances(w.t.kv, customer)).find((b) => b.currency === txn.currency);
  assert.equal(balance?.amount ?? 0, captured - refunded - withdrawn, "balance == Stripe");
  assert.equal(balance?.entries ?? 0, ledger.length, "balance counts every ledger entry");
}
