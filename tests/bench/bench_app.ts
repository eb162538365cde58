/**
 * The whole app on a KV the benchmark opened, built the way
 * tests/helpers/app.ts builds it (never via main.ts): the system clock, and a
 * logger that formats and masks every line at `info` as in production but
 * throws the output away, so logging costs what it costs without flooding the
 * table.
 */
import { createApp } from "../../app.ts";
import { parseConfig } from "../../config.ts";
import { systemClock } from "../../core/clock.ts";
import type { Deps } from "../../services/deps.ts";
import { createLogger } from "../../core/log.ts";
import { createServices, type Services } from "../../services/mod.ts";
import type { StripeGateway } from "../../services/stripe/gateway.ts";

export const BENCH_SIGNING_KEY = "bench-signing-key-0123456789abcdef0123456789";
export const BENCH_WEBHOOK_SECRET = "whsec_benchSecret0123456789abcdef";

/** For benchmarks that must not reach Stripe. */
export const noStripe: StripeGateway = {
  call() {
    return Promise.reject(new Error("this benchmark does not expect a Stripe call"));
  },
};

export interface BenchApp {
  app: ReturnType<typeof createApp>;
  deps: Deps;
  services: Services;
}

export interface BenchAppOptions {
  env?: Record<string, string>;
  stripe?: StripeGateway;
  /** a second handle on the same file, as main.ts opens for a local KV (services/deps.ts) */
  kvReads?: Deno.Kv;
}

export function createBenchApp(kv: Deno.Kv, options: BenchAppOptions = {}): BenchApp {
  const config = parseConfig({
    KV_PATH: ":memory:",
    STRIPE_WEBHOOK_SECRETS: BENCH_WEBHOOK_SECRET,
    AUDIT_SIGNING_KEY: BENCH_SIGNING_KEY,
    ...options.env,
  });
  const deps: Deps = {
    kv,
    kvReads: options.kvReads,
    clock: systemClock,
    stripe: options.stripe ?? noStripe,
    config: { ...config, auditSigningKey: config.auditSigningKey ?? BENCH_SIGNING_KEY },
    log: createLogger("info", () => {}),
  };
  // Load tests lift the per-token throttle through `API_RATE_LIMIT_PER_MIN` in `env`, as an
  // operator would: its KV counting stays in the measured path without turning load into 429s.
  const services = createServices(deps);
  return { app: createApp(deps, services), deps, services };
}
