/**
 * createApp(deps): the whole HTTP surface, with nothing opened at import time.
 * Middleware order: a HEAD's length -> request id -> access log -> the request's log fields ->
 * refusal while stopping -> routes; one onError. The app's fetch keeps a HEAD's length as said
 * (routes/head.ts).
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
import { refundDecisionRoutes } from "./routes/refund_decisions.ts";
import { opsAlertRoutes } from "./routes/ops_alerts.ts";
import { disputeRoutes } from "./routes/disputes.ts";
import { fraudRoutes } from "./routes/fraud.ts";
import { fraudRuleRoutes } from "./routes/fraud_rules.ts";
import { fraudSnoozeRoutes } from "./routes/fraud_snoozes.ts";
import { approvalRoutes } from "./routes/approvals.ts";
import { enrollRoutes } from "./routes/enroll.ts";
import { retryRoutes } from "./routes/retries.ts";
import { authorizationRoutes } from "./routes/authorizations.ts";
import { openApiDocument, registerSecuritySchemes } from "./openapi/document.ts";
import { docsRoutes } from "./openapi/docs.ts";
import { problemRoutes } from "./openapi/problems.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { etags } from "./routes/etag.ts";
import { accessLog } from "./routes/access_log.ts";
import { refuseWhileStopping } from "./routes/drain.ts";
import { unrouted } from "./routes/unrouted.ts";
import { headLength, keepHeadLength } from "./routes/head.ts";
import { withLogFields } from "./core/log_context.ts";
import type { Deps } from "./services/deps.ts";
import { createServices, type Services } from "./services/mod.ts";
import type { Context } from "hono";

type Router = ReturnType<typeof createRouter>;

export interface AppOptions {
  /** true once the server is stopping: requests are then answered 503 (routes/drain.ts) */
  stopping?: () => boolean;
}

export function createApp(
  deps: Deps,
  services: Services = createServices(deps),
  options: AppOptions = {},
) {
  const app = createRouter();
  // a HEAD says the GET's Content-Length, or none (RFC 9110, 8.6), never the empty body's 0
  app.use("*", headLength());
  app.use("*", accessLog(services, deps.log));
  // every line logged while the request is handled, deep in the services too, carries its id
  app.use("*", (c, next) => withLogFields({ request_id: c.get("requestId") }, next));
  if (options.stopping) app.use("*", refuseWhileStopping(options.stopping));
  // ETag / If-None-Match -> 304 and `Cache-Control: private, no-cache` on admin reads
  app.use("/api/admin/*", etags());
  handleErrors(app, deps);
  registerSecuritySchemes(app);
  mountApiRoutes(app, services);
  mountDocumentRoutes(app, deps);
  app.fetch = keepHeadLength(app.fetch);
  return app;
}

/**
 * One onError (a problem document; an internal error logged) and, for no route, a 405 where
 * the path has other methods, else a 404 (routes/unrouted.ts).
 */
function handleErrors(app: Router, deps: Deps): void {
  const onError = (err: unknown, c: Context<AppEnv>) => {
    const error = toAppError(err);
    if (error.code === "internal") {
      (c.get("log") ?? deps.log).error("unhandled error", { error: err });
    }
    return problemResponse(c, error);
  };
  app.onError((err, c) => onError(err, c as Context<AppEnv>));
  const answer = unrouted(app.routes);
  app.notFound((c) =>
    answer(c as Context<AppEnv>).catch((err) => onError(err, c as Context<AppEnv>))
  );
}

function mountApiRoutes(app: Router, services: Services): void {
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
  app.route("/api/admin/payments", refundDecisionRoutes(services));
  app.route("/api/admin/payments", opsAlertRoutes(services));
  app.route("/api/admin/payments", disputeRoutes(services));
  app.route("/api/admin/payments", fraudRoutes(services));
  app.route("/api/admin/payments", fraudSnoozeRoutes(services));
  app.route("/api/admin/payments", fraudRuleRoutes(services));
  app.route("/api/admin", approvalRoutes(services));
  app.route("/api/admin", enrollRoutes(services));
  app.route("/api/admin/payments", retryRoutes(services));
  app.route("/api/admin/payments", authorizationRoutes(services));
}

/** The OpenAPI document (built from the routes mounted before it), /docs, problem pages, /metrics. */
function mountDocumentRoutes(app: Router, deps: Deps): void {
  app.get("/openapi.json", (c) => c.json(openApiDocument(app)));
  app.route("/", docsRoutes());
  app.route("/", problemRoutes());
  app.route("/", metricsRoutes(deps.config.metricsToken));
}

export type App = ReturnType<typeof createApp>;
