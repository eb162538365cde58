/**
 * The authenticated list endpoint under load: the whole app served by
 * `Deno.serve` on loopback, `GET /api/admin/payments/transactions` (first
 * page of 25) with a viewer's bearer token at 50 connections, against the
 * bare Hono route doing one `kv.get` (baseline_route.ts).
 *
 * The request path is the production one: bearer lookup, per-token throttle
 * (counted in KV as in production, in batches; only the limit is raised so one
 * token can carry the load), permission check, page read, sealed cursor.
 */
import type Stripe from "stripe";
import { createBenchApp } from "./bench_app.ts";
import { paymentSucceededEvent } from "./fixtures.ts";
import { loadTest, serveOnLoopback } from "./load.ts";
import { type BenchContext, type FigureBench, progress, withTempKv } from "./support.ts";
import { systemContext } from "../../domain/actor.ts";

const PATH = "/api/admin/payments/transactions";
const SEEDED = 500;

export const listBench: FigureBench = {
  name: "list endpoint",
  figures: ["list_req_per_s", "list_ratio", "list_p99_ms"],
  async run(ctx: BenchContext) {
    return await withTempKv(async (kv) => {
      const { app, services } = createBenchApp(kv, { apiRequestsPerMinute: 1e9 });
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
      if (probe.status === 404) {
        await probe.body?.cancel();
        return { figures: {}, notes: `TODO: ${PATH} not served yet (404)` };
      }
      const page = await probe.json();
      if (probe.status !== 200 || page.data?.length !== 25 || !page.next_cursor) {
        throw new Error(
          `${PATH} answered ${probe.status} with ${page.data?.length} rows; expected a full page`,
        );
      }

      const server = serveOnLoopback(app.fetch);
      try {
        const r = await loadTest({
          url: `${server.origin}${PATH}`,
          connections: ctx.sizes.connections,
          durationS: ctx.sizes.durationS,
          headers,
        });
        return {
          figures: {
            list_req_per_s: r.req_per_s,
            list_ratio: r.req_per_s / ctx.baselines.bare_route_req_per_s,
            list_p99_ms: r.p99_ms,
          },
          notes: `GET ${PATH} (25 of ${SEEDED}), viewer token, ${ctx.sizes.connections} ` +
            `connections, ${r.tool}, p50 ${r.p50_ms} ms`,
        };
      } finally {
        await server.close();
        await services.identity.close(); // flushes the throttle's counts before the KV closes
      }
    });
  },
};
