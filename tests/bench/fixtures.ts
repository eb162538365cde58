/** Stripe-shaped inputs for the benchmarks, built in code (no copied JSON blobs). */
import Stripe from "stripe";
import { API_VERSION } from "../../emulator/mod.ts";

/** The SDK straight to the emulator, outside any budget: setup and bare-SDK comparisons. */
export function emulatorClient(port: number): Stripe {
  return new Stripe("sk_test_bench_direct", {
    host: "127.0.0.1",
    port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  });
}

/** A `payment_intent.succeeded` event for a distinct payment, as Stripe sends it. */
export function paymentSucceededEvent(i: number): string {
  const n = String(i + 1).padStart(8, "0");
  const created = Math.floor(Date.now() / 1000);
  const amount = 1000 + (i % 97) * 137;
  return JSON.stringify({
    id: `evt_bench${n}`,
    object: "event",
    api_version: API_VERSION,
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: `req_bench${n}`, idempotency_key: null },
    type: "payment_intent.succeeded",
    data: {
      object: {
        id: `pi_bench${n}`,
        object: "payment_intent",
        amount,
        amount_received: amount,
        currency: "usd",
        customer: `cus_bench${String(i % 500).padStart(6, "0")}`,
        status: "succeeded",
        latest_charge: `ch_bench${n}`,
        payment_method: `pm_bench${n}`,
        created,
        livemode: false,
        metadata: {},
      },
    },
  });
}
