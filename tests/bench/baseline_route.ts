/**
 * The HTTP baseline: a bare Hono route doing one `kv.get`, served by
 * `Deno.serve` on loopback and loaded at the same connection count as the
 * service's list endpoint.
 */
import { Hono } from "hono";
import { type LoadResult, loadTest, serveOnLoopback } from "./load.ts";
import { sampleTransaction, withTempKv } from "./support.ts";

export function bareRouteLoad(durationS: number, connections: number): Promise<LoadResult> {
  return withTempKv(async (kv) => {
    await kv.set(["bench_transactions", "txn_bench00000001"], sampleTransaction(1, Date.now()));
    const app = new Hono();
    app.get("/bare", async (c) => {
      const entry = await kv.get(["bench_transactions", "txn_bench00000001"]);
      return c.json(entry.value, 200);
    });
    const server = serveOnLoopback(app.fetch);
    try {
      return await loadTest({ url: `${server.origin}/bare`, connections, durationS });
    } finally {
      await server.close();
    }
  });
}
