import Stripe from "stripe";
import { type Emulator, type EmulatorOptions, startEmulator } from "../../emulator/mod.ts";
import { waitingFor } from "./waiting.ts";
import { stripeEvent } from "./stripe_objects.ts";

/** The official SDK pointed at the emulator, with SDK retries off so tests see every answer. */
export function stripeFor(emu: Emulator): Stripe {
  return new Stripe("sk_test_emulator", {
    host: "127.0.0.1",
    port: emu.port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(emu.fetch),
    maxNetworkRetries: 0,
    // a call that gets no answer fails the test, named, well before CI's time limit
    // (the SDK's default is 80 s)
    timeout: 20_000,
  });
}

/** The emulator as tests run it: webhook retries after 10 and 20 ms. Close it when done. */
export function startTestEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator({ webhookRetryDelaysMs: [10, 20], ...opts });
}

/** Runs `fn` against a fresh emulator and always closes it (Deno's leak sanitizers are on). */
export async function withEmulator(
  fn: (ctx: { emu: Emulator; stripe: Stripe }) => Promise<void>,
  opts: EmulatorOptions = {},
): Promise<void> {
  const emu = await startTestEmulator(opts);
  try {
    await fn({ emu, stripe: stripeFor(emu) });
  } finally {
    await waitingFor("the emulator to close", emu.close());
  }
}

export interface WebhookReceiver {
  url: string;
  secret: string;
  /** Verified events in arrival order. */
  events: Stripe.Event[];
  /** Raw attempts, including refused ones. */
  attempts: number;
  /** Answer the next `n` deliveries with HTTP 500. */
  failNext(n: number): void;
}

/** A tiny receiver that verifies each delivery exactly as the service does. */
export async function withWebhookReceiver(
  fn: (receiver: WebhookReceiver) => Promise<void>,
): Promise<void> {
  const secret = "whsec_test_emulator_secret";
  const verifier = new Stripe("sk_test_emulator", {
    httpClient: Stripe.createFetchHttpClient(),
  });
  const crypto = Stripe.createSubtleCryptoProvider();
  let failures = 0;
  const receiver: WebhookReceiver = {
    url: "",
    secret,
    events: [],
    attempts: 0,
    failNext: (n) => {
      failures = n;
    },
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    receiver.attempts++;
    const body = await req.text();
    if (failures > 0) {
      failures--;
      return new Response("receiver down", { status: 500 });
    }
    try {
      const header = req.headers.get("stripe-signature") ?? "";
      const event = await verifier.webhooks.constructEventAsync(body, header, secret, 300, crypto);
      receiver.events.push(event);
      return new Response("ok");
    } catch (e) {
      return new Response(String(e), { status: 400 });
    }
  });
  receiver.url = `http://127.0.0.1:${server.addr.port}/webhooks`;
  try {
    await fn(receiver);
  } finally {
    await server.shutdown();
  }
}

/**
 * A header of the SDK's `lastResponse`: with the fetch client it is the fetch Response, whose
 * headers are a `Headers` instance despite the SDK's type saying a plain record.
 */
export function responseHeader(res: { lastResponse: { headers: unknown } }, name: string) {
  const headers = res.lastResponse.headers;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  return (headers as Record<string, string>)[name];
}

/** A PaymentIntent in usd, created and confirmed at once as a checkout would (`pm_card_visa` unless said). */
export function confirmedPayment(
  stripe: Stripe,
  p: {
    amount: number;
    customer?: string;
    payment_method?: string;
    metadata?: Record<string, string>;
  },
): Promise<Stripe.PaymentIntent> {
  return stripe.paymentIntents.create({
    currency: "usd",
    payment_method: "pm_card_visa",
    confirm: true,
    ...p,
  });
}

/**
 * A paid-then-refunded charge whose refund the service never saw, as its
 * `charge.refunded` event without the listed refunds (today's API shape):
 * applying it reads the refunds back from Stripe (`GET /v1/refunds`).
 */
export async function refundedChargeEvent(
  stripe: Stripe,
  email: string,
): Promise<{ event: Stripe.Event; pi: string }> {
  const customer = await stripe.customers.create({ email });
  const pi = await stripe.paymentIntents.create({
    amount: 4200,
    currency: "usd",
    customer: customer.id,
    payment_method: "pm_card_visa",
    confirm: true,
  });
  await stripe.refunds.create({ payment_intent: pi.id });
  const charge = await stripe.charges.retrieve(pi.latest_charge as string);
  const { refunds: _listed, ...bare } = charge; // only the read-back tells the refund
  const event = stripeEvent("charge.refunded", bare as Stripe.Charge, charge.created + 5);
  return { event, pi: pi.id };
}
