/**
 * The authenticated list endpoint under load: the whole app served by
 * `Deno.serve` on loopback, `GET /api/admin/payments/transactions?limit=25`
 * with a viewer's bearer token at 50 connections, against a bare Hono route
 * listing 25 of the same transaction records from the same KV
 * (baseline_route.ts).
 *
 * The request path is the production one: bearer lookup, per-token throttle
 * (counted in KV as in production; only `API_RATE_LIMIT_PER_MIN` is raised so
 * one token can carry the load), permission check, page read, sealed cursor,
 * ETag, logging and metrics.
 *
 * The machine is shared: the two are loaded in turn, `ROUNDS` times, and the
 * figures are the medians.
 */
import type Stripe from "stripe";
import { createBenchApp } from "./bench_app.ts";
import { BARE_LIST_PATH, serveBareList } from "./baseline_route.ts";
import { paymentSucceededEvent } from "./fixtures.ts";
import { type LoadResult, loadTest, serveOnLoopback } from "./load.ts";
import type { BenchContext, FigureBench } from "./support.ts";
import { percentile, progress, withTempKv } from "./support.ts";
import { systemContext } from "../../domain/actor.ts";

const PATH = "/api/admin/payments/transactions?limit=25";
const SEEDED = 500;
const ROUNDS = 3;

export const listBench: FigureBench = {
  name: "list endpoint",
  figures: ["list_req_per_s", "list_ratio", "list_p99_ms", "list_base_p99_ms"],
  async run(ctx: BenchContext) {
    return await withTempKv(async (kv) => {
      const { app, services } = createBenchApp(kv, {
        env: { API_RATE_LIMIT_PER_MIN: "1000000000" },
      });
      const viewer = await services.identity.createAdmin(systemContext("bench"), {
        email: "bench-viewer@example.com",
        role: "viewer",
      });
      progress(`  seeding ${SEEDED} transactions from payment_intent.succeeded events`);
      for (let i = 0; i < SEEDED; i++) {
        await services.stripeEvents.apply(JSON.parse(paymentSucceededEvent(i)) as Stripe.Event);
      }
      const headers = { authorization: `Bearer ${viewer.token}` };
      const probe = await app.fetch(new Request(`http://bench.local${PATH}`, { headers }));
      const page = await probe.json();
      if (probe.status !== 200 || page.data?.length !== 25 || !page.next_cursor) {
        throw new Error(
          `${PATH} answered ${probe.status} with ${page.data?.length} rows; expected a full page`,
        );
      }

      const server = serveOnLoopback(app.fetch);
      const bare = serveBareList(kv, ["transactions"], 25);
      const load = (url: string, h?: Record<string, string>) =>
        loadTest({
          url,
          connections: ctx.sizes.connections,
          durationS: ctx.sizes.durationS,
          headers: h,
        });
      const base: LoadResult[] = [];
      const list: LoadResult[] = [];
      try {
        for (let round = 0; round < ROUNDS; round++) {
          base.push(await load(`${bare.origin}${BARE_LIST_PATH}`));
          list.push(await load(`${server.origin}${PATH}`, headers));
        }
      } finally {
        await server.close();
        await bare.close();
        await services.identity.close(); // flushes the throttle's counts before the KV closes
      }
      const median = (rs: LoadResult[], f: (r: LoadResult) => number) => percentile(rs.map(f), 50);
      const ratios = list.map((r, i) => r.req_per_s / base[i].req_per_s);
      return {
        figures: {
          list_req_per_s: median(list, (r) => r.req_per_s),
          list_ratio: percentile(ratios, 50),
          list_p99_ms: median(list, (r) => r.p99_ms),
          list_base_p99_ms: median(base, (r) => r.p99_ms),
        },
        extra: { baseline_bare_list_req_per_s: median(base, (r) => r.req_per_s) },
        notes: `GET ${PATH} (25 of ${SEEDED}), viewer token, ${ctx.sizes.connections} ` +
          `connections, ${list[0].tool}, medians of ${ROUNDS} alternating rounds; ratios ` +
          ratios.map((r) => r.toFixed(2)).join(", "),
      };
    });
  },
};
