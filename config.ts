/**
 * The environment of CONTRACT.md, parsed once. Nothing else reads `Deno.env`.
 * An invalid value stops start-up with a message naming the variable and what is allowed.
 */
import { z } from "zod";

import { LOG_LEVELS, type LogLevel } from "./core/log.ts";

export type { LogLevel };

const intIn = (name: string, min: number, max: number) =>
  z.string().regex(/^\d+$/, `${name} must be a whole number`).transform(Number).pipe(
    z.number().int().min(min, `${name} must be at least ${min}`).max(
      max,
      `${name} must be at most ${max}`,
    ),
  );

const envSchema = z.object({
  PORT: intIn("PORT", 1, 65535).optional(),
  KV_PATH: z.string().min(1, "KV_PATH must not be empty").optional(),
  STRIPE_SECRET_KEY: z.string().regex(
    /^(sk_live_|sk_test_|rk_live_|rk_test_)[A-Za-z0-9_]+$/,
    "STRIPE_SECRET_KEY must start with sk_live_, sk_test_, rk_live_ or rk_test_",
  ).optional(),
  STRIPE_API_URL: z.url({
    protocol: /^https?$/,
    error: "STRIPE_API_URL must be an http(s) URL such as https://api.stripe.com",
  }).optional(),
  STRIPE_WEBHOOK_SECRETS: z.string().transform((s) => s.split(",").map((x) => x.trim())).pipe(
    z.array(
      z.string().regex(
        /^whsec_[A-Za-z0-9_+/=]+$/,
        "each STRIPE_WEBHOOK_SECRETS entry must start with whsec_",
      ),
    ).min(1),
  ).optional(),
  STRIPE_RATE_LIMIT_PER_S: intIn("STRIPE_RATE_LIMIT_PER_S", 1, 10000).optional(),
  STRIPE_EMULATOR_PORT: intIn("STRIPE_EMULATOR_PORT", 1, 65535).optional(),
  REFUND_APPROVAL_THRESHOLD: intIn("REFUND_APPROVAL_THRESHOLD", 1, Number.MAX_SAFE_INTEGER)
    .optional(),
  REFUND_DAILY_CAP_PER_OPERATOR: intIn("REFUND_DAILY_CAP_PER_OPERATOR", 0, Number.MAX_SAFE_INTEGER)
    .optional(),
  AUDIT_SIGNING_KEY: z.string().min(32, "AUDIT_SIGNING_KEY must be at least 32 characters")
    .optional(),
  STEP_UP_TTL_S: intIn("STEP_UP_TTL_S", 30, 3600).optional(),
  FRAUD_SWEEP_SCHEDULE: z.string().trim().regex(
    /^\S+( \S+){4}$/,
    "a cron schedule of five fields such as */5 * * * *",
  ).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, {
    error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`,
  }).optional(),
  DEMO: z.enum(["0", "1"], { error: "DEMO must be 1 or 0" }).optional(),
  DENO_DEPLOYMENT_ID: z.string().optional(),
});

export interface Config {
  port: number;
  /** undefined = the platform default (Deno Deploy) */
  kvPath: string | undefined;
  demo: boolean;
  onDenoDeploy: boolean;
  stripe: {
    secretKey: string | undefined;
    apiUrl: string;
    webhookSecrets: string[] | undefined;
    rateLimitPerS: number;
    emulatorPort: number;
    livemode: boolean;
  };
  refundApprovalThreshold: number;
  /** minor units one operator may refund per UTC day without a second approval; null = no cap */
  refundDailyCapPerOperator: number | null;
  /** undefined in demo mode until generated and kept in KV */
  auditSigningKey: string | undefined;
  stepUpTtlS: number;
  logLevel: LogLevel;
  /** cron schedule of the fraud sweep */
  fraudSweepSchedule: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses an environment record (`Deno.env.toObject()` in main.ts, a literal in tests). */
export function parseConfig(env: Record<string, string | undefined>): Config {
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
  if (demo && onDenoDeploy && e.DEMO !== "1") {
    throw new ConfigError(
      "invalid configuration:\n  STRIPE_SECRET_KEY: not set on Deno Deploy; set it, or set DEMO=1 to run the demo on purpose",
    );
  }
  const livemode = secretKey?.includes("_live_") ?? false;
  return {
    port: e.PORT ?? 8000,
    kvPath: e.KV_PATH ?? (onDenoDeploy ? undefined : "./data/kv.sqlite3"),
    demo,
    onDenoDeploy,
    stripe: {
      secretKey,
      apiUrl: e.STRIPE_API_URL ?? "https://api.stripe.com",
      webhookSecrets: e.STRIPE_WEBHOOK_SECRETS,
      rateLimitPerS: e.STRIPE_RATE_LIMIT_PER_S ?? (livemode ? 90 : 25),
      emulatorPort: e.STRIPE_EMULATOR_PORT ?? 12111,
      livemode,
    },
    refundApprovalThreshold: e.REFUND_APPROVAL_THRESHOLD ?? 50000,
    refundDailyCapPerOperator: e.REFUND_DAILY_CAP_PER_OPERATOR || null,
    auditSigningKey: e.AUDIT_SIGNING_KEY,
    stepUpTtlS: e.STEP_UP_TTL_S ?? 300,
    logLevel: e.LOG_LEVEL ?? "info",
    fraudSweepSchedule: e.FRAUD_SWEEP_SCHEDULE ?? "*/5 * * * *",
  };
}

/** The process environment: the one place outside main.ts that reads it (CLIs go through here). */
export function readEnvironment(): Record<string, string> {
  return Deno.env.toObject();
}
