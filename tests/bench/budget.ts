/**
 * The Stripe budget: 50 concurrent callers, each calling Stripe through the
 * real gateway (`createStripeGateway`, KV token bucket on a temp-file KV) as
 * fast as it lets them, against the emulator, which timestamps every request.
 *
 * `budget_max_window` is the most requests the emulator saw in any 1 s window
 * over the whole run, the opening burst included (target: ≤ R + burst).
 * `budget_mean_ratio` is the rate after the first second (once the opening
 * burst is spent, what is left is the refill rate) divided by R (target ≥ 0.9).
 */
import { emulatorClient } from "./fixtures.ts";
import { type BenchContext, type FigureBench, progress, withTempKv } from "./support.ts";
import { parseConfig } from "../../config.ts";
import { startEmulator } from "../../emulator/mod.ts";
import { systemClock } from "../../core/clock.ts";
import { createLogger } from "../../core/log.ts";
import { createStripeGateway } from "../../services/stripe/gateway.ts";

const RATE_PER_S = 20;
const CALLERS = 50;

export const budgetBench: FigureBench = {
  name: "stripe budget",
  figures: ["budget_rate", "budget_burst", "budget_max_window", "budget_mean_ratio"],
  async run(ctx: BenchContext) {
    // at least 3 s after the opening second, so the mean is over more than one refill second
    const durationS = Math.max(4, ctx.sizes.durationS);
    const emu = await startEmulator({ port: 0 });
    try {
      return await withTempKv(async (kv) => {
        const customer = await emulatorClient(emu.port).customers.create({
          email: "b@example.com",
        });
        emu.requests.reset();
        const gateway = createStripeGateway({
          kv,
          clock: systemClock,
          config: parseConfig({
            KV_PATH: ":memory:",
            STRIPE_API_URL: emu.url,
            STRIPE_RATE_LIMIT_PER_S: String(RATE_PER_S),
          }),
          log: createLogger("info", () => {}),
        });
        const started = Date.now();
        const deadline = started + durationS * 1000;
        let calls = 0;
        await Promise.all(Array.from({ length: CALLERS }, async () => {
          while (Date.now() < deadline) {
            await gateway.call((s) => s.customers.retrieve(customer.id), { label: "bench" });
            calls++;
          }
        }));
        const stamps = emu.requests.timestamps();
        if (stamps.length !== calls) {
          throw new Error(`the emulator saw ${stamps.length} requests for ${calls} calls`);
        }
        const steadyFrom = started + 1000;
        const steady = stamps.filter((t) => t >= steadyFrom && t < deadline).length;
        const meanPerS = steady / ((deadline - steadyFrom) / 1000);
        const maxWindow = emu.requests.maxInWindow(1000);
        progress(
          `  ${calls} calls in ${durationS} s; max ${maxWindow} in 1 s; steady ${meanPerS}/s`,
        );
        return {
          figures: {
            budget_rate: RATE_PER_S,
            budget_burst: gateway.bucket.burst,
            budget_max_window: maxWindow,
            budget_mean_ratio: meanPerS / RATE_PER_S,
          },
          notes: `R=${RATE_PER_S}/s, burst ${gateway.bucket.burst}, ${CALLERS} callers, ` +
            `${durationS} s, ${calls} calls; mean over the last ${durationS - 1} s`,
        };
      });
    } finally {
      await emu.close();
    }
  },
};
