/**
 * Signed Stripe webhooks for tests and benches: events built small, signed with
 * the SDK's own test-header helper, POSTed through the app like Stripe would.
 */
import Stripe from "stripe";
import { type Clock, ManualClock } from "../../core/clock.ts";
import { createStripeGateway, type StripeGateway } from "../../services/stripe/gateway.ts";
import type { Emulator, EmulatorOptions } from "../../emulator/mod.ts";
import { withEmulator } from "./emulator.ts";
import { stripeEvent } from "./stripe_objects.ts";
import { createWebhookService, type WebhookService } from "../../services/webhooks/service.ts";
import { type EventApplier } from "../../services/webhooks/processing.ts";
import { createTestApp, type TestApp } from "./app.ts";
import { waitUntil } from "./waiting.ts";

export const WEBHOOK_PATH = "/api/webhooks/stripe";
/** two secrets, as during a rotation: either verifies */
export const TEST_WEBHOOK_SECRETS = [
  "whsec_testCurrent0123456789abcdefghijk",
  "whsec_testPrevious9876543210fedcbazyxw",
] as const;
/** `env` for createTestApp so the intake has the test secrets */
export const WEBHOOK_ENV = { STRIPE_WEBHOOK_SECRETS: TEST_WEBHOOK_SECRETS.join(",") };

const cryptoProvider = Stripe.createSubtleCryptoProvider();
let seq = 0;

/** A unique `evt_…` id (tests post many events). */
export function eventId(): string {
  seq++;
  return `evt_test${Date.now().toString(36)}${seq.toString(36).padStart(5, "0")}`;
}

export interface EventOptions {
  id?: string;
  /** seconds since the epoch */
  created?: number;
  livemode?: boolean;
  previous_attributes?: Record<string, unknown>;
}

/**
 * A Stripe event around `object` (whose `id` and `object` fields name what it
 * is about), built by the one event builder, `stripeEvent` (stripe_objects.ts).
 */
export function makeEvent(
  type: string,
  object: Record<string, unknown>,
  options: EventOptions = {},
): Stripe.Event {
  const event = stripeEvent(
    type,
    object as { id: string },
    options.created ?? Math.floor(Date.now() / 1000),
    { id: options.id ?? eventId(), previous: options.previous_attributes },
  );
  return options.livemode ? { ...event, livemode: true } : event;
}

export interface SignOptions {
  secret?: string;
  /** signature timestamp in seconds; default: `clock` (or the wall clock) now */
  timestamp?: number;
  clock?: Clock;
}

/** A `Stripe-Signature` header for `payload`, computed by the SDK's helper. */
export function signatureFor(payload: string, options: SignOptions = {}): Promise<string> {
  const now = options.clock ? options.clock.now() : Date.now();
  return Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: options.secret ?? TEST_WEBHOOK_SECRETS[0],
    timestamp: options.timestamp ?? Math.floor(now / 1000),
    cryptoProvider,
  });
}

export interface PostOptions extends SignOptions {
  /** replaces the computed signature header (`null` = send none) */
  signature?: string | null;
  /** base URL for `signedRequest` (default http://localhost) */
  origin?: string;
}

/** A ready `Request` carrying `event` (or a raw body) as Stripe would send it. */
export async function signedRequest(
  event: Stripe.Event | string,
  options: PostOptions = {},
): Promise<Request> {
  const body = typeof event === "string" ? event : JSON.stringify(event, null, 2);
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(new TextEncoder().encode(body).length),
  };
  const signature = options.signature === undefined
    ? await signatureFor(body, options)
    : options.signature;
  if (signature !== null) headers["stripe-signature"] = signature;
  return new Request(`${options.origin ?? "http://localhost"}${WEBHOOK_PATH}`, {
    method: "POST",
    headers,
    body,
  });
}

/** POSTs a signed event through the app (`app.fetch`), as Stripe would. */
export async function postEvent(
  app: { fetch(req: Request): Response | Promise<Response> },
  event: Stripe.Event | string,
  options: PostOptions = {},
): Promise<Response> {
  return await app.fetch(await signedRequest(event, options));
}

/**
 * A test app with webhook secrets and the real applier (`file`: on a temp-file KV), for tests
 * of what the intake applies; drains background processing before closing.
 */
export async function withIntakeApp(
  fn: (t: TestApp) => Promise<void>,
  options: { file?: boolean } = {},
): Promise<void> {
  const t = await createTestApp({ env: WEBHOOK_ENV, ...options });
  try {
    await fn(t);
  } finally {
    await t.services.webhooks.drain();
    await t.close();
  }
}

/**
 * Delivers a signed event through the route (answered 200, else the test fails with the
 * answer), waits for its processing and returns its log record as `GET` shows it.
 */
export async function deliverSettled(t: TestApp, event: Stripe.Event | string) {
  const res = await postEvent(t.app, event, { clock: t.clock });
  if (res.status !== 200) throw new Error(`intake answered ${res.status}: ${await res.text()}`);
  await res.body?.cancel();
  await t.services.webhooks.drain();
  const id = typeof event === "string" ? (JSON.parse(event) as { id: string }).id : event.id;
  return await t.services.webhooks.get(id);
}

// --- appliers for tests that need to fail or count --------------------------

/** Wraps an applier: counts calls per event id, and fails on demand. */
export interface CountingApplier extends EventApplier {
  calls: string[];
  /** fail the next `n` calls (Infinity: until told otherwise) */
  failNext(n: number): void;
}

export function countingApplier(base: EventApplier): CountingApplier {
  let failures = 0;
  const calls: string[] = [];
  return {
    calls,
    failNext(n) {
      failures = n;
    },
    async apply(event) {
      calls.push(event.id);
      if (failures > 0) {
        failures--;
        throw new Error("applier unavailable (injected by the test)");
      }
      return await base.apply(event);
    },
  };
}

/** Makes the app's webhooks service hand events to `applier` from now on; returns that service. */
export function useApplier(t: TestApp, applier: EventApplier): WebhookService {
  t.useApplier(applier);
  return t.services.webhooks;
}

/**
 * A second webhooks service on the same KV (as another isolate would run it),
 * with its own applier; the app's service is left as it is.
 */
export function otherWebhookService(t: TestApp, applier: EventApplier): WebhookService {
  return createWebhookService(t.deps, {
    audit: t.services.audit,
    newId: t.services.newId,
    cursors: t.services.cursors,
    applier,
  });
}

/** Every KV entry, for "nothing was stored" and "twice == once" comparisons. */
export async function kvSnapshot(
  kv: Deno.Kv,
  skip: (key: Deno.KvKey) => boolean = () => false,
): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for await (const e of kv.list({ prefix: [] })) {
    if (!skip(e.key)) out.set(JSON.stringify(e.key), e.value);
  }
  return out;
}

/** The service's own applier (services.stripeEvents), wrapped to count and fail on demand. */
export function testApplier(t: TestApp): CountingApplier {
  return countingApplier(t.services.stripeEvents);
}

/** A succeeded PaymentIntent as Stripe sends it in `payment_intent.succeeded` (the fields used). */
export function paymentIntentObject(
  overrides: { id?: string; customer?: string; amount?: number; created?: number } = {},
): Record<string, unknown> {
  const id = overrides.id ?? `pi_test${crypto.randomUUID().replaceAll("-", "").slice(0, 14)}`;
  const amount = overrides.amount ?? 2500;
  return {
    id,
    object: "payment_intent",
    amount,
    amount_received: amount,
    currency: "usd",
    customer: overrides.customer ?? "cus_testLedger",
    status: "succeeded",
    latest_charge: id.replace(/^pi_/, "ch_"),
    last_payment_error: null,
    created: overrides.created ?? Math.floor(Date.now() / 1000),
    livemode: false,
    metadata: {},
  };
}

// --- the app served on loopback, with the emulator delivering to it ---------

export interface EmulatorAppHarness {
  t: TestApp;
  emu: Emulator;
  /** the SDK straight to the emulator (the test acting as "the outside world") */
  stripe: Stripe;
  /** the app's own gateway (budgeted, same KV) */
  gateway: StripeGateway;
  /** where the app listens */
  url: string;
  /** wait until the emulator has delivered everything and the app has processed it */
  settle(): Promise<void>;
}

export interface EmulatorAppOptions {
  /** deliver the emulator's webhooks to the app (default true) */
  deliver?: boolean;
  /** passed to startEmulator (e.g. `now` to create objects in the past) */
  emulator?: EmulatorOptions;
}

/**
 * The whole app served by `Deno.serve` on a random port, its Stripe gateway pointed at a
 * fresh emulator that delivers signed webhooks to it. The manual clock starts at the wall
 * clock, because the emulator signs deliveries with the wall clock.
 */
export async function withEmulatorApp(
  fn: (h: EmulatorAppHarness) => Promise<void>,
  options: EmulatorAppOptions = {},
): Promise<void> {
  await withEmulator(async ({ emu, stripe }) => {
    const clock = new ManualClock(Date.now());
    let gateway: StripeGateway | null = null;
    const lazyGateway: StripeGateway = {
      call: (fn, o) => gateway!.call(fn, o),
    };
    const env = { ...WEBHOOK_ENV, STRIPE_API_URL: emu.url, STRIPE_RATE_LIMIT_PER_S: "1000" };
    const t = await createTestApp({ env, clock, stripe: lazyGateway });
    gateway = createStripeGateway({
      kv: t.kv,
      clock,
      config: t.deps.config,
      log: t.deps.log,
      // budget waits move the manual clock instead of sleeping
      // whole milliseconds, as a real clock reads: a jittered wait (a fraction) would make
      // ids and audit times fractional
      sleep: (ms) => Promise.resolve(clock.advance(Math.ceil(ms))),
      fetch: emu.fetch,
    });
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (req) => t.app.fetch(req),
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    if (options.deliver !== false) {
      emu.setWebhook({ url: `${url}${WEBHOOK_PATH}`, secret: TEST_WEBHOOK_SECRETS[0] });
    }
    const settle = async () => {
      await emu.deliveries();
      await t.services.webhooks.drain();
    };
    try {
      await fn({ t, emu, stripe, gateway, url, settle });
    } finally {
      emu.setWebhook(null);
      await settle();
      await server.shutdown();
      await t.close();
    }
  }, options.emulator);
}

/** A `customer.*` event about a fresh customer: the smallest event the intake stores and applies. */
export function customerEvent(type = "customer.created", fields: Record<string, unknown> = {}) {
  return makeEvent(type, {
    id: `cus_${crypto.randomUUID().slice(0, 8)}`,
    object: "customer",
    created: 1_790_000_000,
    metadata: {},
    livemode: false,
    ...fields,
  });
}

/**
 * A test app with webhook secrets and a counting test applier, for intake and
 * event-log tests; drains background processing before closing.
 */
export async function withWebhookApp(
  fn: (t: TestApp, applier: CountingApplier) => Promise<void>,
  env: Record<string, string> = WEBHOOK_ENV,
): Promise<void> {
  const t = await createTestApp({ env });
  try {
    const applier = testApplier(t);
    useApplier(t, applier);
    await fn(t, applier);
  } finally {
    await t.services.webhooks.drain();
    await t.close();
  }
}

/**
 * Delivers `event` (one whose processing reads refunds back: `GET /v1/refunds`)
 * with that read-back held by the emulator until `release()`, and returns once
 * the attempt right after intake is waiting on it.
 */
export async function deliverWithReadBackHeld(
  h: Pick<EmulatorAppHarness, "t" | "emu">,
  event: Stripe.Event,
): Promise<{ release(): Promise<void> }> {
  const held = h.emu.faults.inject({
    kind: "latency",
    method: "GET",
    path: "/v1/refunds",
    ms: Infinity,
  });
  const intake = await postEvent(h.t.app, event, { clock: h.t.clock });
  if (intake.status !== 200) throw new Error(`the delivery answered ${intake.status}`);
  await intake.body?.cancel();
  await waitUntil(() => held.remaining() === 0, "the inline attempt's read-back was not held");
  return { release: () => held.release() };
}
