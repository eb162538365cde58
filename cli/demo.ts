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
import { seedDemoAccount, seedDemoDisputes, type SeedSummary } from "../services/demo_seed.ts";
import type { Logger } from "../core/log.ts";
import type { Services } from "../services/mod.ts";
import { runDisputeReminders } from "../services/disputes/mod.ts";
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
  { config, kv, log, screen = new StatusLine(STDOUT), stderrTerminal = Deno.stderr.isTerminal() }: {
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
        // Seeding goes through the rate-limited gateway while the server already serves.
        const progress = place.kind === "screen" ? seedProgress(screen) : seedLog(log);
        try {
          const summary = await seedDemoAccount(services.deps.stripe, log, 30, progress.update);
          progress.update(-1, 0);
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
      if (admin) await tellCredentials(telling, admin);
      else tellExisting(telling, await services.identity.allAdmins());
    },
    close: () => emulator.close(),
  };
}

/**
 * One line that counts up (redrawn on a terminal; otherwise printed at the start and the end).
 * `update(-1, 0)`: the disputes, after the customers.
 */
function seedProgress(screen: StatusLine) {
  if (screen.terminal) screen.show("seeding the demo account through the emulator...");
  else screen.line("seeding the demo account through the emulator...");
  return {
    update(done: number, total: number) {
      screen.show(
        done < 0
          ? "seeding the demo account: disputes"
          : `seeding the demo account: ${done}/${total} customers`,
      );
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

/** The same progress as JSON log lines: the start and the end, no line per customer. */
function seedLog(log: Logger) {
  log.info("seeding the demo account through the emulator");
  return {
    update(_done: number, _total: number) {},
    done(summary: SeedSummary | null) {
      if (summary) log.info("seeded the demo account", { ...summary });
    },
  };
}
