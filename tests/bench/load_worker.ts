/**
 * Runs autocannon against one URL and prints its figures as one JSON line.
 * Spawned as its own process by load.ts so the load generator does not share
 * the event loop (and skew the latency) of the server it measures.
 * Usage: load_worker.ts '<LoadOptions JSON>'
 */
import autocannon from "autocannon";
import { LOAD_TOOL, type LoadOptions, type LoadResult } from "./load.ts";

const options: LoadOptions = JSON.parse(Deno.args[0]);
// A short warm-up first so the JIT and KV caches are hot before the measured window.
const result = await autocannon({
  url: options.url,
  method: options.method ?? "GET",
  headers: options.headers ?? {},
  connections: options.connections,
  duration: options.durationS,
  warmup: { connections: options.connections, duration: Math.max(1, options.durationS / 5) },
});
const out: LoadResult = {
  tool: LOAD_TOOL,
  req_per_s: result.requests.total / result.duration,
  p50_ms: result.latency.p50,
  p99_ms: result.latency.p99,
  total: result.requests.total,
  errors: result.errors,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
};
console.log(JSON.stringify(out));
