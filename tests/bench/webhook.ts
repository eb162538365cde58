/**
 * Webhook intake: signed Stripe events through `app.fetch` (verification,
 * dedupe, event log and processing), `KV_COMMIT_CONCURRENCY` deliveries in
 * flight as Stripe sends them, against raw single-key commits/s at the same
 * concurrency. Events are signed before the clock starts: signing is
 * Stripe's cost, not ours.
 *
 * "Including processing": intake stores the event and answers, processing
 * follows in the background, so the clock stops only after
 * `services.webhooks.drain()`, and the last event is checked to be settled.
 * Until `POST /api/webhooks/stripe` exists the probe gets 404 and the
 * figures stay `null`.
 */
import Stripe from "stripe";
import { KV_COMMIT_CONCURRENCY } from "./baseline_kv.ts";
import { BENCH_WEBHOOK_SECRET, createBenchApp } from "./bench_app.ts";
import { type BenchContext, type FigureBench, progress, withTempKv } from "./support.ts";
import { paymentSucceededEvent } from "./fixtures.ts";

const PATH = "/api/webhooks/stripe";

interface SignedEvent {
  payload: string;
  header: string;
}

export const webhookBench: FigureBench = {
  name: "webhook intake",
  figures: ["webhook_events_per_s", "webhook_ratio"],
  async run(ctx: BenchContext) {
    return await withTempKv(async (kv) => {
      const { app, services } = createBenchApp(kv);
      const count = ctx.sizes.quick ? 2_000 : 20_000;
      const signer = new Stripe("sk_test_bench", { httpClient: Stripe.createFetchHttpClient() });
      const crypto = Stripe.createSubtleCryptoProvider();
      const sign = async (payload: string): Promise<SignedEvent> => {
        const header = await signer.webhooks.generateTestHeaderStringAsync({
          payload,
          secret: BENCH_WEBHOOK_SECRET,
          cryptoProvider: crypto,
        });
        return { payload, header };
      };
      const probe = await post(app.fetch, await sign(paymentSucceededEvent(-1)));
      if (probe.status === 404) {
        return { figures: {}, notes: `TODO: ${PATH} not served yet (404)` };
      }
      if (probe.status >= 300) throw new Error(`webhook probe answered ${probe.status}`);
      await services.webhooks.drain();

      progress(`  signing ${count} events`);
      const signed: SignedEvent[] = [];
      for (let i = 0; i < count; i++) signed.push(await sign(paymentSucceededEvent(i)));

      let next = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: KV_COMMIT_CONCURRENCY }, async () => {
        while (next < signed.length) {
          const res = await post(app.fetch, signed[next++]);
          if (res.status >= 300) throw new Error(`webhook delivery answered ${res.status}`);
        }
      }));
      await services.webhooks.drain();
      const perS = count / ((performance.now() - started) / 1000);
      const last = await services.webhooks.get(`evt_bench${String(count).padStart(8, "0")}`);
      if (last.status === "received") {
        throw new Error(`the last event is still "received" after drain(): not processed`);
      }
      return {
        figures: {
          webhook_events_per_s: perS,
          webhook_ratio: perS / ctx.baselines.kv_commits_per_s,
        },
        notes: `${count} payment_intent.succeeded events, ${KV_COMMIT_CONCURRENCY} in flight, ` +
          `processing drained; last event ${last.status}`,
      };
    });
  },
};

async function post(
  fetch: (req: Request) => Response | Promise<Response>,
  signed: SignedEvent,
): Promise<{ status: number }> {
  const res = await fetch(
    new Request(`http://bench.local${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signed.header },
      body: signed.payload,
    }),
  );
  await res.body?.cancel();
  return { status: res.status };
}
