/**
 * Demo mode (no STRIPE_SECRET_KEY): starts the built-in Stripe emulator on
 * loopback, points the service at it and its webhooks at the service, then
 * (once the server listens) creates the demo admin and seeds the account.
 */
import { type Config, DEFAULT_KV_PATH } from "../config.ts";
import { startEmulator } from "../emulator/mod.ts";
import { loadOrCreateSecret } from "../kv/secrets.ts";
import { claimDemoSeeding, markDemoSeeded, releaseDemoSeeding } from "../kv/demo.ts";
import { type AdminCredentials, createDemoAdmin } from "../services/identity/mod.ts";
import { seedDemoAccount, seedDemoDisputes, type SeedSummary } from "../services/demo_seed.ts";
import type { Logger } from "../core/log.ts";
import type { Services } from "../services/mod.ts";
import { runDisputeReminders } from "../services/disputes/mod.ts";
import { StatusLine, STDOUT } from "./status_line.ts";

const DEMO_EMAIL = "demo@example.com";

/** Demo mode could not start; the message says what to do. */
export class DemoError extends Error {
  override name = "DemoError";
}

export interface Demo {
  /** the config with the emulator's URL and the webhook secret filled in */
  config: Config;
  /** creates the demo admin, seeds the account (once per store), then prints what to try */
  seed(services: Services): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the emulator. `screen` is where the demo talks to the person at the
 * terminal (seeding progress, the credentials box); the server's log lines go
 * through it too, so they print above the progress line, not into it.
 */
export async function startDemo(
  { config, kv, log, screen = new StatusLine(STDOUT) }: {
    config: Config;
    kv: Deno.Kv;
    log: Logger;
    screen?: StatusLine;
  },
): Promise<Demo> {
  const secrets = config.stripe.webhookSecrets ??
    [`whsec_${await loadOrCreateSecret(kv, "demo_webhook_secret", 24)}`];
  const dataDir = config.kvPath && !config.kvPath.startsWith(":") && !/^https?:/.test(config.kvPath)
    ? config.kvPath.replace(/[^/]*$/, "") || "./"
    : null;
  const emulator = await startEmulator({
    port: config.stripe.emulatorPort,
    hostname: "127.0.0.1",
    webhook: { url: `http://127.0.0.1:${config.port}/api/webhooks/stripe`, secret: secrets[0] },
    statePath: dataDir ? `${dataDir}emulator-state.json` : undefined,
    log: (msg) => log.debug("emulator", { msg }),
  }).catch((error) => {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new DemoError(
        `port ${config.stripe.emulatorPort} for the demo's Stripe emulator is in use ` +
          "(another demo running?); stop it or set STRIPE_EMULATOR_PORT to a free port",
      );
    }
    throw error;
  });
  log.info("demo mode: Stripe emulator started", { url: emulator.url });
  const demoConfig: Config = {
    ...config,
    stripe: { ...config.stripe, apiUrl: emulator.url, webhookSecrets: secrets },
  };

  return {
    config: demoConfig,
    async seed(services) {
      const admin = await createDemoAdmin(services);
      if (await claimDemoSeeding(kv, services.deps.clock.now())) {
        // Seeding goes through the rate-limited gateway while the server already serves.
        const progress = seedProgress(screen);
        try {
          const summary = await seedDemoAccount(services.deps.stripe, log, 30, progress.update);
          screen.show("seeding the demo account: disputes");
          const disputes = await seedDemoDisputes(services.deps.stripe, emulator, log);
          // The dispute due within 24 h is an ops alert now, not at the cron's next quarter hour.
          await services.webhooks.drain();
          await runDisputeReminders(services);
          progress.done({
            ...summary,
            customers: summary.customers + disputes.customers,
            payments: summary.payments + disputes.payments,
            disputed: summary.disputed + disputes.disputed,
          });
          await markDemoSeeded(kv, services.deps.clock.now());
        } catch (error) {
          progress.done(null);
          log.error("demo seeding failed; it will be tried again at the next start", { error });
          await releaseDemoSeeding(kv);
        }
      }
      // Last, so it stays on screen.
      if (admin) screen.line(credentialsBox(admin, config.port));
      else {
        const admins = await services.identity.allAdmins();
        screen.line(existingAdminNote(admins, config.port, config.kvPath));
      }
    },
    close: () => emulator.close(),
  };
}

/** One line that counts up (redrawn on a terminal; otherwise printed at the start and the end). */
function seedProgress(screen: StatusLine) {
  if (screen.terminal) screen.show("seeding the demo account through the emulator...");
  else screen.line("seeding the demo account through the emulator...");
  return {
    update(done: number, total: number) {
      screen.show(`seeding the demo account: ${done}/${total} customers`);
    },
    done(summary: SeedSummary | null) {
      screen.end(
        summary
          ? `seeded the demo account: ${summary.customers} customers, ${summary.payments} ` +
            `payments, ${summary.declined} declined, ${summary.disputed} disputed`
          : "seeding the demo account failed (see the log)",
      );
    },
  };
}

function tryNext(port: number, token: string, totpFrom: string): string[] {
  const base = `http://localhost:${port}`;
  return [
    "  Try next:",
    `    export TOKEN=${token}`,
    `    curl -s ${base}/api/admin/me -H "Authorization: Bearer $TOKEN"`,
    `    curl -s "${base}/api/admin/payments/transactions?limit=5" -H "Authorization: Bearer $TOKEN"`,
    `    curl -s ${base}/api/admin/payments/ops-alerts -H "Authorization: Bearer $TOKEN"`,
    `    a refund needs a TOTP code ${totpFrom}, and a succeeded payment's txn_ id from the list:`,
    `    curl -s ${base}/api/admin/payments/refunds -H "Authorization: Bearer $TOKEN" \\`,
    '      -H "X-OTP-Code: 123456" -H "Content-Type: application/json" \\',
    `      -d '{"transaction_id":"txn_...","reason":"requested_by_customer","note":"demo"}'`,
    "    one of the 1,200.00 payment waits (202) for another operator or admin (TOKEN2: deno task",
    "    admin create --email second@example.com --role operator), who reads it and approves",
    "    exactly what they read, by its approval.hash:",
    `    curl -s ${base}/api/admin/payments/refunds/rfd_... -H "Authorization: Bearer $TOKEN2"`,
    `    curl -s -X POST ${base}/api/admin/payments/refunds/rfd_.../approve \\`,
    '      -H "Authorization: Bearer $TOKEN2" -H "X-OTP-Code: 654321" \\',
    `      -H "Content-Type: application/json" -d '{"approval_hash":"<its approval.hash>"}'`,
    "",
    `  API docs:  ${base}/docs  (Authorize -> bearerAuth -> the token)`,
    "",
  ];
}

/** Shown once, on purpose, on the terminal: the token and TOTP secret are never stored in clear. */
function credentialsBox(creds: AdminCredentials, port: number): string {
  return [
    "",
    "  Demo admin created (shown once; keep it somewhere safe):",
    `    email         ${creds.admin.email}`,
    `    token         ${creds.token}`,
    `    totp secret   ${creds.totp_secret}`,
    `    otpauth uri   ${creds.otpauth_uri}`,
    `    recovery      ${creds.recovery_codes.join(" ")}`,
    "",
    ...tryNext(port, creds.token, "from the secret above (add it to an authenticator app)"),
  ].join("\n");
}

/** A restart on existing data: the token was shown once, at the first start; say how to get another. */
export function existingAdminNote(
  admins: { id: string; email: string }[],
  port: number,
  kvPath: string | undefined,
): string {
  const demo = admins.find((a) => a.email === DEMO_EMAIL);
  // the CLI opens the same store only when told where it is
  const env = kvPath && kvPath !== DEFAULT_KV_PATH ? `KV_PATH=${kvPath} ` : "";
  if (!demo) {
    // the first admin came from `deno task admin create`, whose output carried its token
    return [
      "",
      `  This store has ${admins.length} admin(s) already, made with \`deno task admin\`, not by the`,
      "  demo: use the token `deno task admin create` printed. To see them:",
      `    ${env}deno task admin list`,
      "",
    ].join("\n");
  }
  const id = demo.id;
  return [
    "",
    `  The demo admin exists already (${demo.email}); its token was shown at the`,
    "  first start. For a new one (the old one stops working):",
    `    ${env}deno task admin rotate-token --id ${id}`,
    `  (the TOTP secret: ${env}deno task admin reset-2fa --id ${id})`,
    "",
    ...tryNext(port, "<the new token>", "from the authenticator app holding its secret"),
  ].join("\n");
}
