import type { Clock } from "./clock.ts";
import type { Ctx } from "./context.ts";
import type { EventBus } from "./events.ts";
import type { FaultInjector, RequestCounter } from "./faults.ts";
import type { Store } from "./store.ts";
import type { RestrictedKeys } from "./restricted_keys.ts";

/** Everything the HTTP handler and the test controls share. */
export interface ServerDeps {
  store: Store;
  bus: EventBus;
  now: () => number;
  faults: FaultInjector;
  requests: RequestCounter;
  disputeDelayMs: number;
  /** null: pending refunds wait for a test control (emulator/mod.ts) */
  refundFailureDelayMs: number | null;
  clock: Clock;
  onChange: () => void;
  /** restricted keys and their permissions (restricted_keys.ts) */
  restrictedKeys: RestrictedKeys;
}

/** A context for changes not caused by an API request (control calls, timers). */
export function backgroundCtx(deps: ServerDeps): Ctx {
  return {
    store: deps.store,
    bus: deps.bus,
    now: deps.now,
    params: {},
    uploads: new Map(),
    request: { id: null, idempotency_key: null },
    disputeDelayMs: deps.disputeDelayMs,
    refundFailureDelayMs: deps.refundFailureDelayMs,
  };
}
