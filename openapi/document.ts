/** The OpenAPI 3.1 document: metadata and security schemes, generated from the route schemas. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../routes/env.ts";
import { finalizeOperations } from "./operations.ts";
import { declareCommonHeaders, HEADER_COMPONENTS } from "./headers.ts";

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Payment operations API",
    version: "0.1.0",
    contact: { name: "The operators of this service", url: "/docs" },
    license: { name: "Proprietary", url: "/docs" },
    description: "Refunds, disputes, fraud triage and payment retries on a Stripe account, " +
      "with roles, step-up 2FA, maker-checker approval and a hash-chained audit log. " +
      "Errors are `application/problem+json` (RFC 9457) with a stable `code`; each code's " +
      "`type` is a page of this service: [what each problem code means](/problems).",
  },
  servers: [{ url: "/", description: "this service" }],
  tags: [
    { name: "health", description: "liveness and readiness" },
    { name: "metrics", description: "Prometheus metrics, for a scraper or an admin" },
    {
      name: "problems",
      description: "what each problem code means and what to do about it (HTML pages)",
    },
    { name: "identity", description: "who am I; step-up (sudo mode) for 2FA operations" },
    { name: "users", description: "admins, roles, tokens and second factors" },
    {
      name: "transactions",
      description:
        "payments as Stripe's webhooks report them, with refunded/reserved/disputed amounts",
    },
    { name: "customers", description: "customer ledger, balances, fraud aggregates, open alerts" },
    {
      name: "refunds",
      description: "refunds exactly once: reservation before Stripe, maker-checker, reconciliation",
    },
    {
      name: "ops alerts",
      description: "money problems for the people on duty (a refund failed after succeeding, " +
        "one Stripe never received), closed with a note once handled",
    },
    {
      name: "webhooks",
      description: "Stripe webhook intake, the intake log, replay of failed or dead events",
    },
    {
      name: "audit",
      description: "the hash-chained audit log: list, verify, export (auditor, admin)",
    },
  ],
};

/** The security schemes and the response headers the document refers to. */
export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  for (const [name, header] of Object.entries(HEADER_COMPONENTS)) {
    app.openAPIRegistry.registerComponent("headers", name, header);
  }
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "API token of an admin, from `deno task admin create`",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "metricsToken", {
    type: "http",
    scheme: "bearer",
    description: "the server's `METRICS_TOKEN`, for a scraper of `GET /metrics` (README, " +
      '"Metrics"); an admin\'s API token (bearerAuth) reads it too',
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "otpCode", {
    type: "apiKey",
    in: "header",
    name: "X-OTP-Code",
    description: "a fresh 6-digit TOTP code; accepted once",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "stepUp", {
    type: "apiKey",
    in: "header",
    name: "X-Step-Up",
    description: "a step-up token from POST /api/admin/step-up",
  });
}

/** The document as served at /openapi.json. */
export function openApiDocument(app: OpenAPIHono<AppEnv>) {
  return finalizeOperations(declareCommonHeaders(app.getOpenAPI31Document(OPENAPI_INFO)));
}
