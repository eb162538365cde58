/**
 * The environment (README, Configuration), parsed once. Nothing else reads `Deno.env`.
 * An invalid value stops start-up with a message naming the variable and what is allowed.
 */
import { z } from "zod";

import { cronScheduleProblem } from "./core/cron_schedule.ts";
import { parseAddressRule } from "./core/net.ts";
import { webhookSecretProblem } from "./core/webhook_secret.ts";
import * as secret from "./core/secret_setting.ts";
import {
  amountFor,
  type CurrencyAmounts,
  parseCurrencyAmounts,
} from "./domain/currency_amounts.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./core/log.ts";
import { readFirstAdminSetting } from "./domain/first_admin.ts";
import { DEFAULT_KV_PATH } from "./core/store_command.ts";

/** Where a local store lives when KV_PATH is not set (README, Quick start). */
export { DEFAULT_KV_PATH };

export type { LogFormat, LogLevel };

const intIn = (name: string, min: number, max: number) =>
  z.string().regex(/^\d+$/, `${name} must be a whole number`).transform(Number).pipe(
    z.number().int().min(min, `${name} must be at least ${min}`).max(
      max,
      `${name} must be at most ${max}`,
    ),
  );

export { amountFor, type CurrencyAmounts };

const currencyAmounts = (name: string) =>
  z.string().transform((raw, ctx): CurrencyAmounts => {
    const parsed = parseCurrencyAmounts(raw);
    if (!("problem" in parsed)) return parsed;
    ctx.addIssue({ code: "custom", message: `${name} ${parsed.problem}` });
    return z.NEVER;
  });

/** A string `problem` finds nothing wrong with (its message names the variable and the fix). */
const judged = (problem: (value: string) => string | null) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message !== null) ctx.addIssue({ code: "custom", message });
  });

/** A schedule `Deno.cron` takes and that fires (README, Configuration). */
const cronSchedule = (name: string) =>
  z.string().trim().superRefine((schedule, ctx) => {
    const problem = cronScheduleProblem(schedule);
    if (problem !== null) ctx.addIssue({ code: "custom", message: `${name} ${problem}` });
  });

const envSchema = z.object({
  PORT: intIn("PORT", 1, 65535).optional(),
  KV_PATH: z.string().min(1, "KV_PATH must not be empty").optional(),
  // what is wrong said by the character and its place, never the key (core/secret_setting.ts)
  STRIPE_SECRET_KEY: judged(secret.stripeKeyProblem).optional(),
  STRIPE_API_URL: z.url({
    protocol: /^https?$/,
    error: "STRIPE_API_URL must be an http(s) URL such as https://api.stripe.com",
  }).optional(),
  // each entry judged as the doctor judges it, named by its place, never by its value
  STRIPE_WEBHOOK_SECRETS: z.string().transform((raw, ctx) => {
    const entries = raw.split(",").map((x) => x.trim());
    const problems = entries.map((e, i) => webhookSecretProblem(e, i, entries.length));
    for (const message of problems) if (message) ctx.addIssue({ code: "custom", message });
    return problems.some(Boolean) ? z.NEVER : entries;
  }).optional(),
  STRIPE_RATE_LIMIT_PER_S: intIn("STRIPE_RATE_LIMIT_PER_S", 1, 10000).optional(),
  STRIPE_ENDPOINT_RATE_LIMIT_PER_S: intIn("STRIPE_ENDPOINT_RATE_LIMIT_PER_S", 1, 10000).optional(),
  STRIPE_EMULATOR_PORT: intIn("STRIPE_EMULATOR_PORT", 1, 65535).optional(),
  REFUND_APPROVAL_THRESHOLD: currencyAmounts("REFUND_APPROVAL_THRESHOLD").optional(),
  REFUND_DAILY_CAP_PER_OPERATOR: currencyAmounts("REFUND_DAILY_CAP_PER_OPERATOR").optional(),
  AUDIT_SIGNING_KEY: z.string().transform((s, ctx) => {
    const keys = s.split(",").map((k) => k.trim());
    if (keys.some((k) => k.length < 32)) {
      ctx.addIssue({
        code: "custom",
        message: "AUDIT_SIGNING_KEY must be at least 32 characters (each entry of a list); " +
          "make one with `openssl rand -base64 48`",
      });
      return z.NEVER;
    }
    return keys;
  }).optional(),
  STEP_UP_TTL_S: intIn("STEP_UP_TTL_S", 30, 3600).optional(),
  FRAUD_SWEEP_SCHEDULE: cronSchedule("FRAUD_SWEEP_SCHEDULE").optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, {
    error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`,
  }).optional(),
  DEMO: z.enum(["0", "1"], { error: "DEMO must be 1 or 0" }).optional(),
  KV_RUNTIME_TAKEOVER: z.enum(["0", "1"], { error: "KV_RUNTIME_TAKEOVER must be 1 or 0" })
    .optional(),
  API_TOKEN_TTL_DAYS: intIn("API_TOKEN_TTL_DAYS", 1, 3650).optional(),
  API_RATE_LIMIT_PER_MIN: intIn("API_RATE_LIMIT_PER_MIN", 1, 1_000_000_000).optional(),
  STEP_UP_RATE_LIMIT_PER_MIN: intIn("STEP_UP_RATE_LIMIT_PER_MIN", 1, 1_000_000).optional(),
  TRUSTED_PROXIES: z.string().transform((raw, ctx) => {
    const entries = raw.split(",").map((x) => x.trim()).filter(Boolean);
    for (const entry of entries) {
      if (parseAddressRule(entry) !== null) continue;
      ctx.addIssue({
        code: "custom",
        message: `TRUSTED_PROXIES entry "${entry}" is not an IPv4 or IPv6 address or CIDR ` +
          "(such as 10.0.0.0/8, 192.0.2.1, 2001:db8::/32)",
      });
      return z.NEVER;
    }
    return entries;
  }).optional(),
  LOG_FORMAT: z.enum(LOG_FORMATS, {
    error: `LOG_FORMAT must be one of ${LOG_FORMATS.join(", ")}`,
  }).optional(),
  METRICS_TOKEN: judged(secret.metricsTokenProblem).optional(),
  DENO_DEPLOYMENT_ID: z.string().optional(),
  DENO_KV_ACCESS_TOKEN: z.string().optional(),
  ALERT_WEBHOOK_URL: z.url({
    protocol: /^https?$/,
    error: "ALERT_WEBHOOK_URL must be an http(s) URL such as https://hooks.example.com/payops",
  }).optional(),
  ALERT_WEBHOOK_SECRET: judged(secret.alertWebhookSecretProblem).optional(),
  RETRY_MAX_ATTEMPTS: intIn("RETRY_MAX_ATTEMPTS", 1, 100).optional(),
  RETRY_MAX_PER_CARD_PER_DAY: intIn("RETRY_MAX_PER_CARD_PER_DAY", 1, 1000).optional(),
  RETRY_WAIT_AFTER_TRY_AGAIN_S: intIn("RETRY_WAIT_AFTER_TRY_AGAIN_S", 0, 30 * 86400).optional(),
  FIRST_ADMIN_EMAIL: z.string().optional(),
  FIRST_ADMIN_ENROLLMENT_CODE: z.string().optional(),
});

export interface Config {
  port: number;
  /** undefined = the platform default (Deno Deploy) */
  kvPath: string | undefined;
  demo: boolean;
  /** DEMO=1: demo mode asked for on purpose (README, Configuration) */
  demoRequested?: boolean;
  /** DENO_KV_ACCESS_TOKEN is set (a KV Connect URL in KV_PATH needs it) */
  kvAccessTokenSet?: boolean;
  /**
   * KV_RUNTIME_TAKEOVER=1: the server, on a newer Deno than the one a KV Connect
   * store's stamp names, takes the store over (README, Deploying to Deno Deploy)
   */
  kvRuntimeTakeover: boolean;
  onDenoDeploy: boolean;
  stripe: {
    secretKey: string | undefined;
    apiUrl: string;
    webhookSecrets: string[] | undefined;
    rateLimitPerS: number;
    /** each endpoint's own limit under `rateLimitPerS` (Files and Search: 20/s) */
    endpointRateLimitPerS?: number;
    emulatorPort: number;
    livemode: boolean;
  };
  /** the threshold for currencies REFUND_APPROVAL_THRESHOLD does not name (0 = any amount) */
  refundApprovalThreshold: number;
  /** per currency: refunds at or above need a second person (use `amountFor`) */
  refundApprovalThresholds: CurrencyAmounts;
  /** per operator, per currency, rolling 24 h; null = ten times the currency's threshold */
  refundDailyCaps: CurrencyAmounts | null;
  /** the key that signs (the first of AUDIT_SIGNING_KEY); undefined in demo mode until generated */
  auditSigningKey: string | undefined;
  /** every key that verifies and unseals, newest first (AUDIT_SIGNING_KEY's list) */
  auditSigningKeys?: string[];
  stepUpTtlS: number;
  logLevel: LogLevel;
  /** ops alerts are also POSTed here (services/alert_delivery.ts); undefined = not sent */
  alertWebhookUrl?: string;
  /** signs those POSTs (HMAC-SHA256 of the body) */
  alertWebhookSecret?: string;
  /** API tokens stop working this many days after they were issued */
  apiTokenTtlDays: number;
  /** admin API requests per token per minute */
  apiRateLimitPerMin: number;
  /** step-up attempts per token per minute */
  stepUpRateLimitPerMin: number;
  /** addresses / CIDRs whose X-Forwarded-For is believed */
  trustedProxies: string[];
  /** the retry policy's limits (README "Retry policy") */
  retry: { maxAttempts: number; maxPerCardPerDay: number; waitAfterTryAgainS: number };
  /** cron schedule of the fraud sweep */
  fraudSweepSchedule: string;
  /** `pretty` on a terminal unless LOG_FORMAT says otherwise */
  logFormat: LogFormat;
  /** bearer token that may read GET /metrics besides admins; undefined = admins only */
  metricsToken: string | undefined;
  /** FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE (services/identity/first_admin.ts) */
  firstAdmin?: { email: string; code: string };
}

export interface ParseOptions {
  /** stdout is a terminal: the log format defaults to `pretty` */
  terminal?: boolean;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses an environment record (`Deno.env.toObject()` in main.ts, a literal in tests). */
export function parseConfig(
  env: Record<string, string | undefined>,
  options: ParseOptions = {},
): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ""),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "env"}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const onDenoDeploy = e.DENO_DEPLOYMENT_ID !== undefined;
  const secretKey = e.STRIPE_SECRET_KEY;
  const demo = secretKey === undefined || e.DEMO === "1";
  // DEMO=1 runs the built-in emulator, which takes no real key: a key set beside it is one of the
  // two settings left over, and the service would send it where Stripe is not (README, DEMO)
  if (e.DEMO === "1" && secretKey !== undefined) {
    throw new ConfigError(
      "invalid configuration:\n  DEMO: DEMO=1 runs demo mode against the built-in Stripe emulator, " +
        "which takes no real key, and STRIPE_SECRET_KEY is set too; unset DEMO to run against " +
        "Stripe with that key, or unset STRIPE_SECRET_KEY to run the demo",
    );
  }
  if (demo && onDenoDeploy && e.DEMO !== "1") {
    throw new ConfigError(
      "invalid configuration:\n  STRIPE_SECRET_KEY: not set on Deno Deploy; set it, or set DEMO=1 to run the demo on purpose",
    );
  }
  // both or neither, the code never quoted (domain/first_admin.ts)
  const first = readFirstAdminSetting(e.FIRST_ADMIN_EMAIL, e.FIRST_ADMIN_ENROLLMENT_CODE, demo);
  if (!first.ok) {
    throw new ConfigError(`invalid configuration:\n  ${first.variable}: ${first.problem}`);
  }
  const livemode = secretKey?.includes("_live_") ?? false;
  const thresholds = e.REFUND_APPROVAL_THRESHOLD ?? { default: 50000, currencies: {} };
  return {
    port: e.PORT ?? 8000,
    kvPath: e.KV_PATH ?? (onDenoDeploy ? undefined : DEFAULT_KV_PATH),
    demo,
    demoRequested: e.DEMO === "1",
    kvAccessTokenSet: e.DENO_KV_ACCESS_TOKEN !== undefined,
    kvRuntimeTakeover: e.KV_RUNTIME_TAKEOVER === "1",
    onDenoDeploy,
    stripe: {
      secretKey,
      apiUrl: e.STRIPE_API_URL ?? "https://api.stripe.com",
      webhookSecrets: e.STRIPE_WEBHOOK_SECRETS,
      rateLimitPerS: e.STRIPE_RATE_LIMIT_PER_S ?? (livemode ? 90 : 25),
      endpointRateLimitPerS: e.STRIPE_ENDPOINT_RATE_LIMIT_PER_S ?? 25,
      emulatorPort: e.STRIPE_EMULATOR_PORT ?? 12111,
      livemode,
    },
    refundApprovalThreshold: thresholds.default ?? 0,
    refundApprovalThresholds: thresholds,
    refundDailyCaps: e.REFUND_DAILY_CAP_PER_OPERATOR ?? null,
    auditSigningKey: e.AUDIT_SIGNING_KEY?.[0],
    auditSigningKeys: e.AUDIT_SIGNING_KEY,
    stepUpTtlS: e.STEP_UP_TTL_S ?? 300,
    logLevel: e.LOG_LEVEL ?? "info",
    alertWebhookUrl: e.ALERT_WEBHOOK_URL,
    alertWebhookSecret: e.ALERT_WEBHOOK_SECRET,
    apiTokenTtlDays: e.API_TOKEN_TTL_DAYS ?? 90,
    apiRateLimitPerMin: e.API_RATE_LIMIT_PER_MIN ?? 120,
    stepUpRateLimitPerMin: e.STEP_UP_RATE_LIMIT_PER_MIN ?? 10,
    trustedProxies: e.TRUSTED_PROXIES ?? [],
    logFormat: e.LOG_FORMAT ?? (options.terminal ? "pretty" : "json"),
    metricsToken: e.METRICS_TOKEN,
    retry: {
      maxAttempts: e.RETRY_MAX_ATTEMPTS ?? 3,
      maxPerCardPerDay: e.RETRY_MAX_PER_CARD_PER_DAY ?? 5,
      waitAfterTryAgainS: e.RETRY_WAIT_AFTER_TRY_AGAIN_S ?? 3600,
    },
    fraudSweepSchedule: e.FRAUD_SWEEP_SCHEDULE ?? "*/5 * * * *",
    ...(first.value ? { firstAdmin: first.value } : {}),
  };
}

/**
 * Outside demo mode the server, the admin CLI and the backfill refuse to start
 * without AUDIT_SIGNING_KEY: a key generated and kept in the same KV would let
 * anyone holding the KV (or a backup) unseal every TOTP secret and forge
 * checkpoints and cursors.
 */
export function requireSigningKey(config: Config, who: string): void {
  if (config.demo || config.auditSigningKey !== undefined) return;
  throw new ConfigError(
    `invalid configuration:\n  AUDIT_SIGNING_KEY: required outside demo mode (${who} will not ` +
      "start without it); make one with `openssl rand -base64 48` and keep it apart from the KV " +
      "and its backups",
  );
}

/** The process environment: the one place outside main.ts that reads it (CLIs go through here). */
export function readEnvironment(): Record<string, string> {
  return Deno.env.toObject();
}
