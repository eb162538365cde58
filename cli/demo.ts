/**
 * Demo mode (no STRIPE_SECRET_KEY): starts the built-in Stripe emulator on
 * loopback, points the service at it and its webhooks at the service, then
 * (once the server listens) creates the demo admin and seeds the account.
 */
import type { Config } from "../config.ts";
import { startEmulator } from "../emulator/mod.ts";
import { loadOrCreateSecret } from "../kv/secrets.ts";
import { claimDemoSeeding, markDemoSeeded, releaseDemoSeeding } from "../kv/demo.ts";
import { createDemoAdmin } from "../services/identity/mod.ts";
import type { Logger } from "../core/log.ts";
import type { Services } from "../services/mod.ts";
import { seedDemoData, seedLog, seedProgress } from "./demo_seeding.ts";
import { StatusLine, STDOUT } from "./status_line.ts";
import {
  credentialsPlace,
  demoDataDir,
  tellCredentials,
  tellExisting,
  type Telling,
} from "./demo_credentials.ts";

/** Demo mode could not start; the message says what to do. */
export class DemoError extends Error {
  override name = "DemoError";
}

export interface Demo {
  /** the config with the emulator's URL and the webhook secret filled in */
  config: Config;
  /** creates the demo admin, seeds the account (once per store), then prints what to try */
  seed(services: Services): Promise<void>;
  /**
   * `fetch` for the SDK's calls to the emulator, over a pool that closes with
   * it: on Deno 2.5 a socket the global pool parked holds the emulator's stop.
   */
  fetch: typeof fetch;
  close(): Promise<void>;
}

/**
 * Starts the emulator. `screen` is where the demo talks to the person at the
 * terminal with pretty logs (seeding progress, the credentials box); the
 * server's log lines go through it too, so they print above the progress line,
 * not into it. With JSON logs the progress is log lines and the credentials go
 * where demo_credentials.ts says (never into the log).
 */
export async function startDemo(
  {
    config,
    kv,
    log,
    screen = new StatusLine(STDOUT),
    stderrTerminal = Deno.stderr.isTerminal(),
  }: {
    config: Config;
    kv: Deno.Kv;
    log: Logger;
    screen?: StatusLine;
    stderrTerminal?: boolean;
  },
): Promise<Demo> {
  const place = credentialsPlace(config, stderrTerminal);
  if (place.kind === "refuse") throw new DemoError(place.message);
  const telling: Telling = { config, log, screen, place };
  const secrets = config.stripe.webhookSecrets ??
    [`whsec_${await loadOrCreateSecret(kv, "demo_webhook_secret", 24)}`];
  const dataDir = demoDataDir(config.kvPath);
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
        const progress = place.kind === "screen" ? seedProgress(screen) : seedLog(log);
        try {
          await seedDemoData(services, emulator, log, progress);
          await markDemoSeeded(kv, services.deps.clock.now());
        } catch (error) {
          progress.done(null);
          log.error("demo seeding failed; it will be tried again at the next start", { error });
          await releaseDemoSeeding(kv);
        }
      }
      // Last, so it stays on screen.
      if (admin) await tellCredentials(telling, admin);
      else tellExisting(telling, await services.identity.allAdmins());
    },
    fetch: emulator.fetch,
    close: () => emulator.close(),
  };
}
