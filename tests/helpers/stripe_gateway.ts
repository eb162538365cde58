/**
 * A real gateway (SDK + KV bucket) against a fresh emulator, on its own
 * `:memory:` KV, with sleeps recorded. Everything is closed afterwards.
 */
import { parseConfig } from "../../config.ts";
import type { Emulator } from "../../emulator/mod.ts";
import { type Clock, ManualClock } from "../../core/clock.ts";
import { silentLogger } from "../../core/log.ts";
import {
  type BudgetedStripeGateway,
  createStripeGateway,
  type StripeGatewayOptions,
} from "../../services/stripe/gateway.ts";
import { withEmulator } from "./emulator.ts";
import { retryLockedCommits } from "../../kv/open.ts";

export interface GatewayHarness {
  emu: Emulator;
  gateway: BudgetedStripeGateway;
  kv: Deno.Kv;
  logs: string[];
  /** every backoff or budget wait the gateway asked for, in ms */
  sleeps: number[];
  /** gateways of other isolates (`isolates` − 1): each its own KV handle and buckets */
  others: BudgetedStripeGateway[];
}

export interface GatewayHarnessOptions extends Partial<Omit<StripeGatewayOptions, "config">> {
  env?: Record<string, string>;
  /** default: a ManualClock that `sleep` advances, so tests never wait for real */
  clock?: Clock;
  /**
   * How many isolates share the budget (default 1). Above one the KV is a temp file each
   * isolate opens on its own handle, as Deno Deploy's isolates share one KV.
   */
  isolates?: number;
}

export function withGateway(
  fn: (h: GatewayHarness) => Promise<void>,
  options: GatewayHarnessOptions = {},
): Promise<void> {
  return withEmulator(async ({ emu }) => {
    const isolates = options.isolates ?? 1;
    const dir = isolates > 1 ? await Deno.makeTempDir({ prefix: "gateway_isolates_" }) : null;
    const open = async () =>
      dir ? retryLockedCommits(await Deno.openKv(`${dir}/kv.sqlite3`)) : Deno.openKv(":memory:");
    const kv = await open();
    const handles: Deno.Kv[] = [];
    try {
      const logs: string[] = [];
      const sleeps: number[] = [];
      const clock = options.clock ?? new ManualClock();
      const sleep = options.sleep ?? ((ms: number) => {
        sleeps.push(ms);
        if (clock instanceof ManualClock) clock.advance(ms);
        return Promise.resolve();
      });
      const config = parseConfig({
        KV_PATH: ":memory:",
        STRIPE_API_URL: emu.url,
        STRIPE_RATE_LIMIT_PER_S: "50",
        ...options.env,
      });
      const gatewayOn = (kv: Deno.Kv) =>
        createStripeGateway({
          log: silentLogger(logs),
          random: () => 0.5,
          ...options,
          kv,
          clock,
          config,
          sleep,
          fetch: emu.fetch,
        });
      for (let i = 1; i < isolates; i++) handles.push(await open());
      const gateway = gatewayOn(kv);
      const others = handles.map(gatewayOn);
      await fn({ emu, gateway, kv, logs, sleeps, others });
    } finally {
      for (const h of handles) closeOnce(h);
      closeOnce(kv);
      if (dir) await Deno.remove(dir, { recursive: true });
    }
  });
}

/** A test may have closed the KV already to see the gateway cope with it. */
function closeOnce(kv: Deno.Kv): void {
  try {
    kv.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}
