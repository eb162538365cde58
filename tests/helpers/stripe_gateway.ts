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

export interface GatewayHarness {
  emu: Emulator;
  gateway: BudgetedStripeGateway;
  kv: Deno.Kv;
  logs: string[];
  /** every backoff or budget wait the gateway asked for, in ms */
  sleeps: number[];
}

export interface GatewayHarnessOptions extends Partial<Omit<StripeGatewayOptions, "config">> {
  env?: Record<string, string>;
  /** default: a ManualClock that `sleep` advances, so tests never wait for real */
  clock?: Clock;
}

export function withGateway(
  fn: (h: GatewayHarness) => Promise<void>,
  options: GatewayHarnessOptions = {},
): Promise<void> {
  return withEmulator(async ({ emu }) => {
    const kv = await Deno.openKv(":memory:");
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
      const gateway = createStripeGateway({
        log: silentLogger(logs),
        random: () => 0.5,
        ...options,
        kv,
        clock,
        config,
        sleep,
        fetch: emu.fetch,
      });
      await fn({ emu, gateway, kv, logs, sleeps });
    } finally {
      closeOnce(kv);
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
