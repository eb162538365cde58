/**
 * Refunds end to end against the emulator (no added latency), through
 * `services.refunds.create` with the real gateway (budget set far above the
 * load: the figure is ours, not the bucket's).
 *
 * - `refunds_per_s`: full refunds with `REFUND_CONCURRENCY` in flight.
 * - `refund_overhead_ms`: one at a time, the service's median time minus the
 *   median of as many bare SDK refunds on the same emulator, so the
 *   emulator's own cost is taken out and queueing behind other refunds is not
 *   counted as overhead.
 */
import type Stripe from "stripe";
import { emulatorClient } from "./fixtures.ts";
import { createBenchApp } from "./bench_app.ts";
import {
  type BenchContext,
  type FigureBench,
  percentile,
  progress,
  withTempKv,
} from "./support.ts";
import { parseConfig } from "../../config.ts";
import { startEmulator } from "../../emulator/mod.ts";
import { findTransactionId } from "../../kv/transactions.ts";
import { systemClock } from "../../services/clock.ts";
import type { CallContext } from "../../services/context.ts";
import { createLogger } from "../../services/log.ts";
import { createStripeGateway } from "../../services/stripe_gateway.ts";

const REFUND_CONCURRENCY = 8;
const OPERATOR: CallContext = {
  actor: { type: "admin", id: "adm_bench_operator", role: "operator" },
  request: { request_id: "req_bench_refunds", ip: "127.0.0.1", user_agent: "bench" },
  second_factor: true,
};

export const refundsBench: FigureBench = {
  name: "refunds",
  figures: ["refunds_per_s", "refund_overhead_ms"],
  async run(ctx: BenchContext) {
    const count = ctx.sizes.quick ? 150 : 1_000;
    const emu = await startEmulator({ port: 0 });
    try {
      return await withTempKv(async (kv) => {
        const stripeEnv = { STRIPE_API_URL: emu.url, STRIPE_RATE_LIMIT_PER_S: "10000" };
        const gateway = createStripeGateway({
          kv,
          clock: systemClock,
          config: parseConfig({ KV_PATH: ":memory:", ...stripeEnv }),
          log: createLogger("info", () => {}),
          burst: 10_000,
        });
        const { services } = createBenchApp(kv, { stripe: gateway, env: stripeEnv });
        const sdk = emulatorClient(emu.port);

        const latencyCount = ctx.sizes.quick ? 100 : 300;
        progress(`  creating ${count + 2 * latencyCount} payments at the emulator`);
        const rawPayments = await createPayments(sdk, latencyCount);
        const register = async (ids: string[]) => {
          const out: string[] = [];
          for (const id of ids) {
            await services.stripeEvents.applyObject(await sdk.paymentIntents.retrieve(id));
            const txn = (await findTransactionId(kv, id)).value;
            if (!txn) throw new Error(`no transaction recorded for ${id}`);
            out.push(txn);
          }
          return out;
        };
        const sequentialTxns = await register(await createPayments(sdk, latencyCount));
        const concurrentTxns = await register(await createPayments(sdk, count));

        const refund = async (transaction_id: string) => {
          const r = await services.refunds.create(OPERATOR, {
            transaction_id,
            reason: "requested_by_customer",
            note: "bench",
          });
          if (r.status !== 201) {
            throw new Error(
              `refund of ${transaction_id} answered ${r.status} (${r.refund.status})`,
            );
          }
        };
        const raw = await timeEach(rawPayments, 1, async (payment_intent) => {
          await sdk.refunds.create({ payment_intent });
        });
        const sequential = await timeEach(sequentialTxns, 1, refund);
        const service = await timeEach(concurrentTxns, REFUND_CONCURRENCY, refund);
        const perS = count / service.seconds;
        const rawMedian = percentile(raw.ms, 50);
        const serviceMedian = percentile(sequential.ms, 50);
        return {
          figures: { refunds_per_s: perS, refund_overhead_ms: serviceMedian - rawMedian },
          extra: { refund_median_ms: serviceMedian, refund_sdk_median_ms: rawMedian },
          notes: `${count} full refunds, ${REFUND_CONCURRENCY} in flight (median ` +
            `${percentile(service.ms, 50).toFixed(1)} ms); one at a time: median ` +
            `${serviceMedian.toFixed(1)} ms vs bare SDK ${rawMedian.toFixed(1)} ms`,
        };
      });
    } finally {
      await emu.close();
    }
  },
};

/** `count` succeeded card payments at the emulator; their ids. */
async function createPayments(sdk: Stripe, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const pi = await sdk.paymentIntents.create({
      amount: 1000 + (i % 97) * 137,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    if (pi.status !== "succeeded") throw new Error(`payment ${pi.id} is ${pi.status}`);
    ids.push(pi.id);
  }
  return ids;
}

/** Runs `fn` over `items`, `concurrency` at a time; each call's ms and the wall time. */
async function timeEach(
  items: string[],
  concurrency: number,
  fn: (item: string) => Promise<void>,
): Promise<{ ms: number[]; seconds: number }> {
  const ms: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const item = items[next++];
      const t0 = performance.now();
      await fn(item);
      ms.push(performance.now() - t0);
    }
  }));
  return { ms, seconds: (performance.now() - started) / 1000 };
}
