/**
 * Demo mode (no STRIPE_SECRET_KEY): starts the built-in Stripe emulator on
 * loopback, points the service at it and its webhooks at the service, then
 * (once the server listens) creates the demo admin and seeds the account.
 */
import type { Config } from "../config.ts";
import { startEmulator } from "../emulator/mod.ts";
import { loadOrCreateSecret } from "../kv/secrets.ts";
import { claimDemoSeeding, markDemoSeeded, releaseDemoSeeding } from "../kv/demo.ts";
import { type AdminCredentials, createDemoAdmin } from "../services/identity/mod.ts";
import { seedDemoAccount, seedDemoDisputes } from "../services/demo_seed.ts";
import type { Logger } from "../core/log.ts";
import type { Services } from "../services/mod.ts";

/** Demo mode could not start; the message says what to do. */
export class DemoError extends Error {
  override name = "DemoError";
}

export interface Demo {
  /** the config with the emulator's URL and the webhook secret filled in */
  config: Config;
  seed(services: Services): Promise<void>;
  close(): Promise<void>;
}

export async function startDemo(
  { config, kv, log }: { config: Config; kv: Deno.Kv; log: Logger },
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
      if (admin) printCredentials(admin, config.port);
      if (!await claimDemoSeeding(kv, services.deps.clock.now())) return;
      // Seeding goes through the rate-limited gateway; let it run while the server serves.
      seedDemoAccount(services.deps.stripe, log)
        .then(() => seedDemoDisputes(services.deps.stripe, emulator, log))
        .then(() => markDemoSeeded(kv, services.deps.clock.now()))
        .catch(async (error) => {
          log.error("demo seeding failed; it will be tried again at the next start", { error });
          await releaseDemoSeeding(kv);
        });
    },
    close: () => emulator.close(),
  };
}

/** Shown once, on purpose, on the terminal: the token and TOTP secret are never stored in clear. */
function printCredentials(creds: AdminCredentials, port: number): void {
  console.log([
    "",
    "  Demo admin created (shown once; keep it somewhere safe):",
    `    email         ${creds.admin.email}`,
    `    token         ${creds.token}`,
    `    totp secret   ${creds.totp_secret}`,
    `    otpauth uri   ${creds.otpauth_uri}`,
    `    recovery      ${creds.recovery_codes.join(" ")}`,
    "",
    `  API docs:  http://localhost:${port}/docs  (Authorize -> bearerAuth -> the token)`,
    "",
  ].join("\n"));
}
