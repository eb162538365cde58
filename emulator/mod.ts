/**
 * A Stripe-compatible API emulator for demo mode and tests: the official SDK and curl can
 * drive it on a loopback port, and every change is delivered as a signed webhook.
 */
import { Clock } from "./clock.ts";
import { authenticate } from "./confirm.ts";
import { resolveDispute } from "./disputes.ts";
import { escalateDispute, extendDisputeDeadline } from "./dispute_moves.ts";
import { EventBus, type WebhookTarget } from "./events.ts";
import { FaultInjector, RequestCounter } from "./faults.ts";
import { pendingRefundOutcome, scheduleSettlement, settleRefund } from "./refunds.ts";
import { advanceClock } from "./control.ts";
import { backgroundCtx, type ServerDeps } from "./deps.ts";
import { createHandler } from "./server.ts";
import type { RestrictedKeys } from "./restricted_keys.ts";
import { loadStore, newStore, saveStore, type Store, type StripeObject } from "./store.ts";

export { signPayload } from "./signature.ts";
export { API_VERSION } from "./events.ts";
export type { WebhookTarget } from "./events.ts";
export { FaultInjector, RequestCounter } from "./faults.ts";
export type { FaultHandle, FaultKind, FaultSpec } from "./faults.ts";
export type { StripeObject } from "./store.ts";
export type { RestrictedKeys } from "./restricted_keys.ts";

export interface EmulatorOptions {
  /** 0 = random free port (default). */
  port?: number;
  /** Default "127.0.0.1". */
  hostname?: string;
  /** Where signed events are delivered; may be set later with setWebhook(). */
  webhook?: WebhookTarget;
  /** ms clock for `created`, `due_by`, idempotency expiry (default Date.now). */
  now?: () => number;
  /** Load state from this JSON file at start; save it (debounced) after changes. */
  statePath?: string;
  /** Delays between delivery attempts after a failure (default [1000, 5000, 30000]). */
  webhookRetryDelaysMs?: number[];
  /** How long a webhook attempt waits for an answer before it counts as failed (default 10 s). */
  webhookTimeoutMs?: number;
  /** Delay before a createDispute card's charge gets its dispute (default 0). */
  disputeDelayMs?: number;
  /**
   * Delay before a refundFail card's pending refund fails, or a refundPending card's succeeds
   * (default 0); null: they stay pending until `settleRefund` (or a cancel) settles them.
   */
  refundFailureDelayMs?: number | null;
  log?: (msg: string) => void;
  /** Restricted keys and the permissions each holds, e.g. `{ rk_test_x: ["refund_write"] }`. */
  restrictedKeys?: RestrictedKeys;
}

export interface Emulator {
  url: string;
  port: number;
  setWebhook(target: WebhookTarget | null): void;
  faults: FaultInjector;
  requests: RequestCounter;
  /** Resolves when no webhook delivery or scheduled emulator work is pending. */
  deliveries(): Promise<void>;
  /** Webhook endpoint outage: events are recorded but not delivered until `releaseWebhooks`. */
  holdWebhooks(): void;
  /** Delivers every held event at once, in parallel (newest first with `reverse`), maybe twice. */
  releaseWebhooks(options?: { order?: "created" | "reverse"; duplicate?: boolean }): number;
  /** Settles an open dispute as the network would: `charge.dispute.closed` (+ funds_reinstated). */
  resolveDispute(id: string, outcome: "won" | "lost"): StripeObject;
  /**
   * The bank escalates an open inquiry to a chargeback: `needs_response` with a new
   * `evidence_details.due_by` (Unix seconds; default 7 days on), funds withdrawn
   * (`charge.dispute.updated`, then `charge.dispute.funds_withdrawn`).
   */
  escalateDispute(id: string, options?: { due_by?: number }): StripeObject;
  /** Stripe extends an open dispute's evidence deadline to `dueBy` (Unix seconds, later). */
  extendDisputeDeadline(id: string, dueBy: number): StripeObject;
  /** A pending refund succeeds or bounces now, as the card network settles it (test control). */
  settleRefund(id: string, outcome: "succeeded" | "failed"): StripeObject;
  /** The customer finishes (or fails) 3D Secure on a PaymentIntent in `requires_action`. */
  authenticate(paymentIntentId: string, outcome: "succeed" | "fail"): StripeObject;
  /** Moves the clock forward: authorizations lapse, dispute deadlines pass. */
  advanceClock(seconds: number): void;
  /** The emulator's current time in ms (the configured clock plus any advance). */
  now(): number;
  /**
   * `fetch` over a connection pool that closes with the emulator, for the SDK
   * clients talking to it (`Stripe.createFetchHttpClient(emu.fetch)`): Deno
   * 2.5's graceful shutdown waits minutes on a pooled keep-alive connection.
   */
  fetch: typeof fetch;
  close(): Promise<void>;
}

const SAVE_DEBOUNCE_MS = 100;
/** how long `close()` lets idle connections close on their own, ms */
const IDLE_CLOSE_GRACE_MS = 2_000;

function persistence(store: Store, path: string | undefined, log: (msg: string) => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let saving: Promise<void> = Promise.resolve();
  const save = () => {
    timer = undefined;
    saving = saving.then(() => saveStore(store, path!)).catch((e) =>
      log(`emulator: saving state to ${path} failed: ${e}`)
    );
    return saving;
  };
  return {
    markDirty(): void {
      if (path && timer === undefined) timer = setTimeout(save, SAVE_DEBOUNCE_MS);
    },
    async flush(): Promise<void> {
      if (timer !== undefined) {
        clearTimeout(timer);
        await save();
      }
      await saving;
    },
  };
}

/** A refund that was still pending when the state was saved settles once we are back up. */
function resumePendingRefunds(deps: ServerDeps): void {
  const { store } = deps;
  for (const refund of store.objects.refunds.values()) {
    const charge = store.objects.charges.get(refund.charge);
    const outcome = charge ? pendingRefundOutcome(charge) : null;
    if (refund.status === "pending" && outcome) {
      scheduleSettlement(backgroundCtx(deps), refund.id, outcome);
    }
  }
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const clock = new Clock(opts.now ?? Date.now);
  const now = clock.now;
  const log = opts.log ?? (() => {});
  const store = opts.statePath ? await loadStore(opts.statePath) : newStore();
  const saver = persistence(store, opts.statePath, log);
  const bus = new EventBus({
    store,
    now,
    retryDelaysMs: opts.webhookRetryDelaysMs ?? [1000, 5000, 30000],
    timeoutMs: opts.webhookTimeoutMs ?? 10_000,
    log,
    onChange: () => saver.markDirty(),
  });
  bus.target = opts.webhook ?? null;
  const deps: ServerDeps = {
    store,
    bus,
    now,
    faults: new FaultInjector(),
    requests: new RequestCounter(),
    disputeDelayMs: opts.disputeDelayMs ?? 0,
    refundFailureDelayMs: opts.refundFailureDelayMs === undefined ? 0 : opts.refundFailureDelayMs,
    clock,
    onChange: () => saver.markDirty(),
    restrictedKeys: opts.restrictedKeys ?? {},
  };
  resumePendingRefunds(deps);
  const server = Deno.serve(
    { port: opts.port ?? 0, hostname: opts.hostname ?? "127.0.0.1", onListen() {} },
    createHandler(deps),
  );
  const port = server.addr.port;
  const host = opts.hostname ?? "127.0.0.1";
  log(`emulator: Stripe emulator listening on http://${host}:${port}`);
  let closed = false;
  const clients = Deno.createHttpClient({});
  return {
    url: `http://${host}:${port}`,
    fetch: (input, init) => fetch(input, { ...init, client: clients }),
    port,
    setWebhook: (target) => {
      bus.target = target;
    },
    faults: deps.faults,
    requests: deps.requests,
    deliveries: () => bus.idle(),
    holdWebhooks: () => bus.hold(),
    releaseWebhooks: (options) => bus.release(options),
    resolveDispute: (id, outcome) => {
      const dispute = resolveDispute(backgroundCtx(deps), id, outcome);
      saver.markDirty();
      return structuredClone(dispute);
    },
    escalateDispute: (id, options) => {
      const dispute = escalateDispute(backgroundCtx(deps), id, options);
      saver.markDirty();
      return structuredClone(dispute);
    },
    extendDisputeDeadline: (id, dueBy) => {
      const dispute = extendDisputeDeadline(backgroundCtx(deps), id, dueBy);
      saver.markDirty();
      return structuredClone(dispute);
    },
    settleRefund: (id, outcome) => {
      const refund = settleRefund(backgroundCtx(deps), id, outcome);
      saver.markDirty();
      return structuredClone(refund);
    },
    authenticate: (id, outcome) => {
      const pi = authenticate(backgroundCtx(deps), id, outcome === "succeed");
      saver.markDirty();
      return structuredClone(pi);
    },
    advanceClock: (seconds) => {
      advanceClock(deps, seconds);
      saver.markDirty();
    },
    now,
    close: async () => {
      if (closed) return;
      closed = true;
      bus.close();
      clients.close();
      deps.faults.releaseAll(); // the server's shutdown waits for the answers still held
      // Deno 2.5 waits on a connection that never sent a request until its peer closes it
      // (a socket a client's pool opened ahead of need): a bounded wait, then the state is saved.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.shutdown(),
        new Promise<void>((r) => timer = setTimeout(r, IDLE_CLOSE_GRACE_MS)),
      ]);
      clearTimeout(timer);
      await bus.idle();
      await saver.flush();
    },
  };
}
