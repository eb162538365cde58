import { newId } from "./ids.ts";
import { signPayload } from "./signature.ts";
import { clone, put, type Store, type StripeObject } from "./store.ts";

// The API version the pinned SDK (stripe@23.1.0) sends; events carry the account's version.
export const API_VERSION = "2026-10-28.endive";

export interface WebhookTarget {
  url: string;
  secret: string;
  /** what GET /v1/webhook_endpoints shows for it (default: every event) */
  enabled_events?: string[];
  /** the endpoint's API version as GET /v1/webhook_endpoints shows it (default: API_VERSION) */
  api_version?: string;
}

export interface RequestInfo {
  id: string | null;
  idempotency_key: string | null;
}

export const NO_REQUEST: RequestInfo = { id: null, idempotency_key: null };

export interface EventBusOptions {
  store: Store;
  now: () => number;
  retryDelaysMs: number[];
  /** how long an attempt waits for the endpoint's answer before it counts as failed */
  timeoutMs: number;
  log: (msg: string) => void;
  onChange: () => void;
}

/**
 * Records events and delivers them to the webhook target in the background. Also owns every
 * timer the emulator starts (delayed disputes, async refund failures, delivery retries), so
 * `idle()` means "nothing left to happen" and `close()` leaves no timer or fetch behind.
 */
export class EventBus {
  target: WebhookTarget | null = null;
  #pending = 0;
  #waiters: (() => void)[] = [];
  #timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  #chains = new Map<string, Promise<void>>();
  #aborts = new Set<AbortController>();
  #closed = false;
  /** While held (an endpoint outage), events queue here instead of being delivered. */
  #held: { event: StripeObject; target: WebhookTarget }[] | null = null;
  // Deliveries get their own connection pool, closed with the bus: a pooled
  // keep-alive connection would otherwise hold the receiver's server open (Deno
  // 2.5's graceful shutdown waits minutes for it).
  #http = Deno.createHttpClient({});

  constructor(readonly opts: EventBusOptions) {}

  emit(
    type: string,
    object: StripeObject,
    request: RequestInfo = NO_REQUEST,
    previous?: StripeObject,
  ): StripeObject {
    const target = this.target;
    const event: StripeObject = {
      id: newId("evt"),
      object: "event",
      api_version: API_VERSION,
      created: Math.floor(this.opts.now() / 1000),
      data: previous ? { object: clone(object), previous_attributes: previous } : {
        object: clone(object),
      },
      livemode: false,
      pending_webhooks: target ? 1 : 0,
      request: { ...request },
      type,
    };
    put(this.opts.store, "events", event);
    this.opts.onChange();
    if (target && !this.#closed) {
      if (this.#held) this.#held.push({ event, target });
      else this.#enqueue(event, String(object.id), target);
    }
    return event;
  }

  /** Stops delivering: events are recorded and queued (Stripe cannot reach the endpoint). */
  hold(): void {
    this.#held ??= [];
  }

  /**
   * Delivers every held event at once, as Stripe does when an endpoint comes back: all in
   * parallel, so in no particular order (`order: "reverse"` sends the newest first), and with
   * `duplicate` each event twice. Later events are delivered as they happen again.
   * Returns how many deliveries it started.
   */
  release(options: { order?: "created" | "reverse"; duplicate?: boolean } = {}): number {
    const held = this.#held ?? [];
    this.#held = null;
    const batch = options.order === "reverse" ? [...held].reverse() : held;
    const sends = options.duplicate ? batch.flatMap((h) => [h, h]) : batch;
    for (const { event, target } of sends) {
      if (this.#closed) break;
      this.#pending++;
      this.#deliver(event, target).finally(() => this.#done());
    }
    return sends.length;
  }

  /** Events waiting for `release()`. */
  heldCount(): number {
    return this.#held?.length ?? 0;
  }

  /** Runs `fn` after `ms`, tracked so tests can await it and close() can cancel it. */
  schedule(fn: () => void, ms: number): void {
    if (this.#closed) return;
    this.#pending++;
    const id = setTimeout(() => {
      this.#timers.delete(id);
      try {
        fn();
      } catch (e) {
        this.opts.log(`emulator: scheduled task failed: ${e}`);
      } finally {
        this.#done();
      }
    }, ms);
    this.#timers.set(id, () => this.#done());
  }

  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.#closed = true;
    for (const [id, cancel] of this.#timers) {
      clearTimeout(id);
      cancel();
    }
    this.#timers.clear();
    for (const ac of this.#aborts) ac.abort();
    this.#http.close();
  }

  #done(): void {
    this.#pending--;
    if (this.#pending === 0) {
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  // One chain per object keeps deliveries about the same object in creation order, while
  // unrelated objects do not wait behind a failing endpoint.
  #enqueue(event: StripeObject, objectId: string, target: WebhookTarget): void {
    this.#pending++;
    const prev = this.#chains.get(objectId) ?? Promise.resolve();
    const next = prev.then(() => this.#deliver(event, target)).finally(() => {
      if (this.#chains.get(objectId) === next) this.#chains.delete(objectId);
      this.#done();
    });
    this.#chains.set(objectId, next);
  }

  async #deliver(event: StripeObject, target: WebhookTarget): Promise<void> {
    const delays = this.opts.retryDelaysMs;
    for (let attempt = 0; attempt <= delays.length && !this.#closed; attempt++) {
      if (attempt > 0 && !(await this.#sleep(delays[attempt - 1]))) return;
      if (await this.#attempt(event, target)) {
        this.#settle(event);
        return;
      }
    }
    this.opts.log(`emulator: webhook ${event.id} (${event.type}) not delivered, giving up`);
  }

  async #attempt(event: StripeObject, target: WebhookTarget): Promise<boolean> {
    const payload = JSON.stringify(event, null, 2);
    // Signed with the wall clock, not the injected one: the receiver checks the timestamp
    // against its own clock (SDK tolerance 300 s).
    const signature = await signPayload(payload, target.secret, Math.floor(Date.now() / 1000));
    const ac = new AbortController();
    this.#aborts.add(ac);
    // An endpoint that does not answer in time is a failed attempt, retried later, as Stripe
    // treats one; a connection that never answers cannot hold `idle()` (and a test) forever.
    const { timeoutMs } = this.opts;
    const timer = setTimeout(() => ac.abort(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    try {
      const res = await fetch(target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": signature,
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
        body: payload,
        signal: ac.signal,
        client: this.#http,
      });
      await res.body?.cancel();
      if (!res.ok) this.opts.log(`emulator: webhook ${event.id} got HTTP ${res.status}`);
      return res.ok;
    } catch (e) {
      if (!this.#closed) this.opts.log(`emulator: webhook ${event.id} failed: ${e}`);
      return false;
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(ac);
    }
  }

  #settle(event: StripeObject): void {
    const stored = this.opts.store.objects.events.get(event.id);
    if (stored) stored.pending_webhooks = 0;
  }

  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const id = setTimeout(() => {
        this.#timers.delete(id);
        resolve(true);
      }, ms);
      this.#timers.set(id, () => resolve(false));
    });
  }
}
