/**
 * A whole app on a fresh `:memory:` KV with a manual clock, for route tests
 * through `app.request()`. Close it with `await t.close()`.
 */
import { createApp } from "../../app.ts";
import { parseConfig } from "../../config.ts";
import { ManualClock } from "../../core/clock.ts";
import { AppError } from "../../core/errors.ts";
import type { Deps } from "../../services/deps.ts";
import { createLogger } from "../../core/log.ts";
import { createServices, type ServiceOptions, type Services } from "../../services/mod.ts";
import type { EventApplier } from "../../services/webhooks/mod.ts";
import type { StripeGateway } from "../../services/stripe/gateway.ts";
import { createAdmin, type TestAdmin } from "./identity.ts";
import { retryLockedCommits } from "../../kv/open.ts";

export const TEST_SIGNING_KEY = "test-signing-key-0123456789abcdef0123456789";

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: Deps;
  services: Services;
  clock: ManualClock;
  kv: Deno.Kv;
  logs: string[];
  /** the KV file, when the app was made with `file: true` (another isolate opens it too) */
  kvPath?: string;
  /** From now on the webhooks service hands events to `applier` (tests/helpers/webhooks.ts). */
  useApplier(applier: EventApplier): void;
  close(): Promise<void>;
}

/** A gateway that refuses every call: for tests that must not reach Stripe. */
export const noStripe: StripeGateway = {
  call() {
    // as the real gateway answers when Stripe cannot be reached: a route shows 503, not 500
    return Promise.reject(
      new AppError("stripe_unavailable", "this test does not expect a Stripe call"),
    );
  },
};

export interface TestAppOptions {
  env?: Record<string, string>;
  stripe?: StripeGateway;
  clock?: ManualClock;
  /**
   * A temp-file KV with a second handle for reads, as main.ts opens a local
   * file (`Deps.kvReads`), instead of `:memory:`.
   */
  file?: boolean;
  /** how the services are built (refund hooks, throttle limits, the webhook applier) */
  services?: ServiceOptions;
  /** true once the server is stopping, as main.ts hands it to the app (routes/drain.ts) */
  stopping?: () => boolean;
}

/** The webhooks service's applier, which a test may swap without rebuilding the service. */
function applierSlot() {
  let current: EventApplier | null = null;
  const slot: EventApplier = {
    apply: (event, options) => current!.apply(event, options),
    get appliesAtIntake() {
      return current!.appliesAtIntake;
    },
  };
  return {
    wrap(applier: EventApplier): EventApplier {
      current = applier;
      return slot;
    },
    use(applier: EventApplier): void {
      current = applier;
    },
  };
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dir = options.file ? await Deno.makeTempDir({ prefix: "payments_test_" }) : null;
  const kvPath = dir ? `${dir}/kv.sqlite3` : undefined;
  // as main.ts opens a local file: commits wait out another connection's write lock
  const kv = kvPath ? retryLockedCommits(await Deno.openKv(kvPath)) : await Deno.openKv(":memory:");
  const kvReads = kvPath ? retryLockedCommits(await Deno.openKv(kvPath)) : undefined;
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 10, 26, 9, 0, 0));
  const logs: string[] = [];
  const config = parseConfig({ KV_PATH: ":memory:", ...options.env });
  const deps: Deps = {
    kv,
    kvReads,
    clock,
    stripe: options.stripe ?? noStripe,
    config: { ...config, auditSigningKey: config.auditSigningKey ?? TEST_SIGNING_KEY },
    // every line kept in `logs`, as JSON unless the test's env says LOG_FORMAT=pretty
    log: createLogger("debug", (l) => logs.push(l), {}, config.logFormat),
  };
  const slot = applierSlot();
  const wrapApplier = options.services?.webhookApplier;
  const services = createServices(deps, {
    ...options.services,
    webhookApplier: (base) => slot.wrap(wrapApplier ? wrapApplier(base) : base),
  });
  const app = createApp(deps, services, { stopping: options.stopping });
  const close = async () => {
    kvReads?.close();
    kv.close();
    if (dir) await Deno.remove(dir, { recursive: true });
  };
  return { app, deps, services, clock, kv, logs, kvPath, useApplier: slot.use, close };
}

/**
 * Another isolate of `t`'s deployment, as Deno Deploy runs several: its own KV
 * handle on `t`'s file (made with `file: true`), its own services and app, so
 * nothing in memory is shared (caches, queues, throttle counts, in-flight
 * marks); the same config and clock, and `stripe` (its own gateway) if given.
 * Closing it closes only its handle.
 */
export async function createIsolateOf(
  t: TestApp,
  options: { stripe?: StripeGateway; services?: ServiceOptions } = {},
): Promise<TestApp> {
  if (!t.kvPath) throw new Error("another isolate needs the app made with { file: true }");
  const kv = retryLockedCommits(await Deno.openKv(t.kvPath));
  const logs: string[] = [];
  const deps: Deps = {
    kv,
    clock: t.clock,
    stripe: options.stripe ?? t.deps.stripe,
    config: t.deps.config,
    log: createLogger("debug", (l) => logs.push(l), {}, t.deps.config.logFormat),
  };
  const slot = applierSlot();
  const services = createServices(deps, {
    ...options.services,
    webhookApplier: (base) => slot.wrap(base),
  });
  const app = createApp(deps, services);
  const close = () => Promise.resolve(kv.close());
  return { app, deps, services, clock: t.clock, kv, logs, useApplier: slot.use, close };
}

/** Runs `fn` on a fresh test app and always closes it (Deno's leak sanitizers are on). */
export async function withTestApp(
  fn: (t: TestApp) => Promise<void>,
  options: TestAppOptions = {},
): Promise<void> {
  const t = await createTestApp(options);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

/** Runs `fn` on a fresh test app with a `viewer` admin, and always closes it. */
export function withViewer(
  fn: (t: TestApp, viewer: TestAdmin) => Promise<void>,
): Promise<void> {
  return withTestApp(async (t) => await fn(t, await createAdmin(t, "viewer")));
}
