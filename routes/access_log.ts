/**
 * The first middleware: the request id (ours always; a client's kept beside
 * it), the request's logger and services, then after the route the id
 * headers, `Cache-Control` on admin answers, metrics and one access-log line.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "./env.ts";
import type { Logger } from "../core/log.ts";
import type { Services } from "../services/mod.ts";

/** A client's own X-Request-Id kept beside ours (README "Inputs and headers"); another is dropped. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** HTTP's own methods (RFC 9110, and PATCH): any other is counted as `OTHER`. */
const METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
  "CONNECT",
  "TRACE",
]);

/**
 * The labels of a request's metrics, bounded whatever the request says (README, "Metrics"):
 * the method if it is one of HTTP's own, else `OTHER`; the template of the route that matched
 * (never the raw path: ids would make a series per record), else `unmatched`, a middleware's
 * mount pattern (`/api/admin/*`) included.
 */
function metricLabels(c: Context<AppEnv>): { method: string; route: string } {
  const method = METHODS.has(c.req.method) ? c.req.method : "OTHER";
  const route = matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? "unmatched";
  return { method, route };
}

export function accessLog(services: Services, log: Logger): MiddlewareHandler<AppEnv> {
  const requests = services.metrics.counter(
    "payops_http_requests_total",
    "HTTP requests by method, route template and status",
  );
  const latency = services.metrics.histogram(
    "payops_http_request_duration_seconds",
    "HTTP request time by method and route template",
  );
  return async (c, next) => {
    // Our id is always ours (it lands in audit entries); a client's is kept beside it.
    const incoming = c.req.header("x-request-id");
    const clientRequestId = incoming && CLIENT_REQUEST_ID.test(incoming) ? incoming : null;
    const requestId = services.newId("req");
    c.set("requestId", requestId);
    c.set(
      "log",
      log.child(
        clientRequestId
          ? { request_id: requestId, client_request_id: clientRequestId }
          : { request_id: requestId },
      ),
    );
    c.set("services", services);
    const started = performance.now();
    await next();
    c.header("X-Request-Id", requestId);
    if (clientRequestId) c.header("X-Client-Request-Id", clientRequestId);
    const path = c.req.path;
    // Admin answers may be revalidated (ETag) but not stored by shared caches;
    // answers carrying a secret already said no-store.
    if (path.startsWith("/api/admin") && !c.res.headers.has("cache-control")) {
      c.header("Cache-Control", "private, no-cache");
    }
    const status = c.res.status;
    // Each accepted delivery is in the webhook-event log already (GET /webhook-events); at
    // info level a burst from Stripe (or the demo's seeding) would bury everything else.
    const quiet = status < 400 && path === "/api/webhooks/stripe";
    const seconds = (performance.now() - started) / 1000;
    const { method, route } = metricLabels(c);
    requests.inc({ method, route, status: String(status) });
    latency.observe({ method, route }, seconds);
    const line = { method: c.req.method, path, status, ms: Math.round(seconds * 10_000) / 10 };
    if (quiet) c.get("log").debug("request", line);
    else c.get("log").info("request", line);
  };
}
