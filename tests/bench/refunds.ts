/**
 * Refunds end to end against the emulator (no added latency), through the
 * refund service with the real gateway (SDK + KV token bucket, budget far above
 * the load, so the figure is ours, not the bucket's):
 *
 *   refunds_per_s       refunds created and settled per second, CONCURRENCY in flight;
 *   refund_overhead_ms  median service time of one refund minus the median time of the
 *                       same `POST /v1/refunds` made with the bare SDK, one at a time.
 *
 * Payments are made at the emulator and registered through the Stripe event
 * applier before the clock starts (`applyObject`, as the backfill does).
 */
import Stripe from "stripe";
import { startEmulator } from "../../emulator/mod.ts";
import { systemClock } from "../../core/clock.ts";
import type { CallContext } from "../../domain/actor.ts";
import { createLogger } from "../../core/log.ts";
import { createStripeGateway, type StripeGateway } from "../../services/stripe/gateway.ts";
import { createBenchApp } from "./bench_app.ts";
import type { BenchContext, FigureBench } from "./support.ts";
import { percentile, progress, withTempKv } from "./support.ts";

const CONCURRENCY = 8;
const AMOUNT = 2000;
/** refunds made before any clock starts, so the JIT and KV caches are warm */
const WARMUP = 50;

function ctxFor(i: number): CallContext {
  return {
    actor: { type: "admin", id: `adm_bench${i % 4}`, role: "operator" },
    request: null,
    second_factor: true,
  };
}

async function inParallel(n: number, width: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

export async function measureRefunds(ctx: BenchContext) {
  const throughputCount = ctx.sizes.quick ? 300 : 2_000;
  const samples = ctx.sizes.quick ? 100 : 400;
  const emu = await startEmulator();
  try {
    return await withTempKv(async (kv) => {
      let gateway: StripeGateway | null = null;
      const { services, deps } = createBenchApp(kv, {
        env: {
          STRIPE_API_URL: emu.url,
          STRIPE_SECRET_KEY: "sk_test_bench",
          STRIPE_RATE_LIMIT_PER_S: "5000",
          // at or above the shared budget plus its burst, no endpoint gets a sub-bucket:
          // Stripe's own 25/s per endpoint would measure the budget, not the service
          STRIPE_ENDPOINT_RATE_LIMIT_PER_S: "10000",
          REFUND_APPROVAL_THRESHOLD: String(AMOUNT * 10),
          // Each of the four operators refunds about 700 x 500 in the full run, above the
          // default cap (ten times the threshold): every refund here must go straight through.
          REFUND_DAILY_CAP_PER_OPERATOR: String(AMOUNT * 10_000),
        },
        stripe: { call: (fn, o) => gateway!.call(fn, o) },
      });
      gateway = createStripeGateway({
        kv,
        clock: systemClock,
        config: deps.config,
        log: createLogger("info", () => {}),
      });
      const sdk = new Stripe("sk_test_bench", {
        host: "127.0.0.1",
        port: emu.port,
        protocol: "http",
        httpClient: Stripe.createFetchHttpClient(),
        maxNetworkRetries: 0,
      });
      const total = WARMUP + throughputCount + 2 * samples;
      progress(`  ${total} payments at the emulator`);
      const payments: { pi: string; txn: string }[] = [];
      await inParallel(total, CONCURRENCY, async () => {
        const pi = await sdk.paymentIntents.create({
          amount: AMOUNT,
          currency: "usd",
          payment_method: "pm_card_visa",
          confirm: true,
        });
        await services.stripeEvents.applyObject(pi);
        payments.push({ pi: pi.id, txn: (await services.transactions.get(pi.id)).id });
      });

      const refund = async (n: number) => {
        const i = WARMUP + n;
        const r = await services.refunds.create(ctxFor(i), {
          transaction_id: payments[i].txn,
          amount: 500,
          reason: "requested_by_customer",
          note: "bench",
        });
        if (r.refund.status !== "succeeded") throw new Error(`refund ended ${r.refund.status}`);
      };

      for (let i = 0; i < WARMUP; i++) {
        await services.refunds.create(ctxFor(i), {
          transaction_id: payments[i].txn,
          amount: 500,
          reason: "requested_by_customer",
          note: "warm-up",
        });
      }
      progress(`  ${throughputCount} refunds, ${CONCURRENCY} in flight`);
      const started = performance.now();
      await inParallel(throughputCount, CONCURRENCY, refund);
      const perS = throughputCount / ((performance.now() - started) / 1000);

      progress(`  ${samples} refunds one at a time, then ${samples} bare SDK refunds`);
      const ours: number[] = [];
      for (let i = throughputCount; i < throughputCount + samples; i++) {
        const t0 = performance.now();
        await refund(i);
        ours.push(performance.now() - t0);
      }
      const bare: number[] = [];
      for (let i = throughputCount + samples; i < throughputCount + 2 * samples; i++) {
        const t0 = performance.now();
        await sdk.refunds.create({
          payment_intent: payments[WARMUP + i].pi,
          amount: 500,
          reason: "requested_by_customer",
          metadata: { refund_id: `rfd_bare${i}`, requested_by: "adm_bench" },
        }, { idempotencyKey: `refund:rfd_bare${i}` });
        bare.push(performance.now() - t0);
      }
      const overhead = percentile(ours, 50) - percentile(bare, 50);
      return {
        refunds_per_s: perS,
        refund_overhead_ms: Math.max(0, overhead),
        median_refund_ms: percentile(ours, 50),
        median_stripe_ms: percentile(bare, 50),
        throughputCount,
        samples,
      };
    });
  } finally {
    await emu.close();
  }
}

export const refundsBench: FigureBench = {
  name: "refunds",
  figures: ["refunds_per_s", "refund_overhead_ms"],
  async run(ctx) {
    const m = await measureRefunds(ctx);
    return {
      figures: { refunds_per_s: m.refunds_per_s, refund_overhead_ms: m.refund_overhead_ms },
      extra: { refund_median_ms: m.median_refund_ms, refund_stripe_median_ms: m.median_stripe_ms },
      notes: `${m.throughputCount} refunds at ${CONCURRENCY} in flight; overhead = median of ` +
        `${m.samples} sequential refunds (${m.median_refund_ms.toFixed(2)} ms) − bare SDK ` +
        `POST /v1/refunds (${m.median_stripe_ms.toFixed(2)} ms)`,
    };
  },
};
