/**
 * createApp(deps): the whole HTTP surface, with nothing opened at import time.
 * Middleware order: request id -> access log -> routes; one onError.
 */
import { createRouter } from "./routes/router.ts";
import type { AppEnv } from "./routes/env.ts";
import { problemResponse, toAppError } from "./routes/problem.ts";
import { healthRoutes } from "./routes/health.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { webhookEventRoutes } from "./routes/webhook_events.ts";
import { auditLogRoutes } from "./routes/audit_log.ts";
import { meRoutes } from "./routes/me.ts";
import { stepUpRoutes } from "./routes/step_up.ts";
import { userRoutes } from "./routes/users.ts";
import { transactionRoutes } from "./routes/transactions.ts";
import { customerRoutes } from "./routes/customers.ts";
import { refundRoutes } from "./routes/refunds.ts";
import { opsAlertRoutes } from "./routes/ops_alerts.ts";
import { disputeRoutes } from "./routes/disputes.ts";
import { fraudRoutes } from "./routes/fraud.ts";
import { fraudRuleRoutes } from "./routes/fraud_rules.ts";
import { approvalRoutes } from "./routes/approvals.ts";
import { enrollRoutes } from "./routes/enroll.ts";
import { retryRoutes } from "./routes/retries.ts";
import { authorizationRoutes } from "./routes/authorizations.ts";
import { openApiDocument, registerSecuritySchemes } from "./openapi/document.ts";
import { docsRoutes } from "./openapi/docs.ts";
import { problemRoutes } from "./openapi/problems.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { etags } from "./routes/etag.ts";
import { routePath } from "hono/route";
import { AppError } from "./core/errors.ts";
import type { Deps } from "./services/deps.ts";
import { createServices, type Services } from "./services/mod.ts";
import type { Context } from "hono";

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function createApp(deps: Deps, services: Services = createServices(deps)) {
  const app = createRouter();
  const requests = services.metrics.counter(
    "payops_http_requests_total",
    "HTTP requests by method, route template and status",
  );
  const latency = services.metrics.histogram(
    "payops_http_request_duration_seconds",
    "HTTP request time by method and route template",
  );

  app.use("*", async (c, next) => {
    // Our id is always ours (it lands in audit entries); a client's is kept beside it.
    const incoming = c.req.header("x-request-id");
    const clientRequestId = incoming && CLIENT_REQUEST_ID.test(incoming) ? incoming : null;
    const requestId = services.newId("req");
    c.set("requestId", requestId);
    c.set(
      "log",
      deps.log.child({
        request_id: requestId,
        ...(clientRequestId ? { client_request_id: clientRequestId } : {}),
      }),
    );
    c.set("services", services);
    const started = performance.now();
    await next();
    c.header("X-Request-Id", requestId);
    if (clientRequestId) c.header("X-Client-Request-Id", clientRequestId);
    // Admin answers may be revalidated (ETag) but not stored by shared caches;
    // answers carrying a secret already said no-store.
    if (c.req.path.startsWith("/api/admin") && !c.res.headers.has("cache-control")) {
      c.header("Cache-Control", "private, no-cache");
    }
    // Each accepted delivery is in the webhook-event log already (GET /webhook-events); at
    // info level a burst from Stripe (or the demo's seeding) would bury everything else.
    const quiet = c.res.status < 400 && c.req.path === "/api/webhooks/stripe";
    const seconds = (performance.now() - started) / 1000;
    // the route template, never the raw path: ids would make a series per record
    const matched = routePath(c, -1);
    const route = matched === "*" || matched === "/*" ? "unmatched" : matched;
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    latency.observe({ method: c.req.method, route }, seconds);
    (quiet ? c.get("log").debug : c.get("log").info)("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(seconds * 10_000) / 10,
    });
  });

  // ETag / If-None-Match -> 304 and `Cache-Control: private, no-cache` on admin reads
  app.use("/api/admin/*", etags());

  app.onError((err, c) => {
    const error = toAppError(err);
    if (error.code === "internal") {
      (c.get("log") ?? deps.log).error("unhandled error", { error: err });
    }
    return problemResponse(c as Context<AppEnv>, error);
  });
  app.notFound((c) =>
    problemResponse(
      c as Context<AppEnv>,
      new AppError(
        "not_found",
        `no route for ${c.req.method} ${c.req.path}; see /docs for the API`,
      ),
    )
  );

  registerSecuritySchemes(app);
  app.route("/", healthRoutes(services));
  app.route("/api/admin", meRoutes(services));
  app.route("/api/admin", stepUpRoutes(services));
  app.route("/api/admin", userRoutes(services));
  app.route("/api/webhooks", webhookRoutes(services));
  app.route("/api/admin/payments", webhookEventRoutes(services));
  app.route("/api/admin/payments", auditLogRoutes(services));
  app.route("/api/admin/payments", transactionRoutes(services));
  app.route("/api/admin/payments", customerRoutes(services));
  app.route("/api/admin/payments", refundRoutes(services));
  app.route("/api/admin/payments", opsAlertRoutes(services));
  app.route("/api/admin/payments", disputeRoutes(services));
  app.route("/api/admin/payments", fraudRoutes(services));
  app.route("/api/admin/payments", fraudRuleRoutes(services));
  app.route("/api/admin", approvalRoutes(services));
  app.route("/api/admin", enrollRoutes(services));
  app.route("/api/admin/payments", retryRoutes(services));
  app.route("/api/admin/payments", authorizationRoutes(services));

  app.get("/openapi.json", (c) => c.json(openApiDocument(app)));
  app.route("/", docsRoutes());
  app.route("/", problemRoutes());
  app.route("/", metricsRoutes(deps.config.metricsToken));
  return app;
}

export type App = ReturnType<typeof createApp>;
