/**
 * Composition root: config -> kv -> (demo: emulator) -> stripe gateway ->
 * services -> app -> Deno.serve, plus the cron registrations. The only module
 * (with config.ts and the CLIs) that reads the environment or opens KV.
 */
import { type Config, ConfigError, parseConfig, requireSigningKey } from "./config.ts";
import { createApp } from "./app.ts";
import { systemClock } from "./core/clock.ts";
import { createLogger } from "./core/log.ts";
import { createStripeGateway } from "./services/stripe/mod.ts";
import { createServices, type Services } from "./services/mod.ts";
import {
  PERIODIC_TASKS,
  type PeriodicTask,
  runJobs,
  runPeriodicTask,
} from "./services/background.ts";
import { loadOrCreateSecret } from "./kv/secrets.ts";
import { checkStoreLayout, StoreLayoutError } from "./kv/layout.ts";
import { DemoError, startDemo } from "./cli/demo.ts";
import { runFraudLive, runFraudSweep } from "./services/fraud/mod.ts";

let config: Config;
try {
  config = parseConfig(Deno.env.toObject());
  requireSigningKey(config, "the server");
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  Deno.exit(1);
}
const log = createLogger(config.logLevel);

// Crons are registered at the top level, before any await, as Deno Deploy
// requires; until the services exist they have nothing to do.
const started: { services?: Services } = {};
for (const [task, schedule] of Object.entries(PERIODIC_TASKS)) {
  Deno.cron(task, schedule, { backoffSchedule: [] }, async () => {
    if (!started.services) return;
    try {
      await runPeriodicTask(started.services, task as PeriodicTask);
    } catch (error) {
      log.error("cron task failed", { cron: task, error });
    }
  });
}

// The fraud sweep on its own schedule (FRAUD_SWEEP_SCHEDULE): a thin wrapper over the job function.
Deno.cron("fraud-sweep", config.fraudSweepSchedule, { backoffSchedule: [] }, async () => {
  if (!started.services) return;
  try {
    await runFraudSweep(started.services);
  } catch (error) {
    log.error("cron task failed", { cron: "fraud-sweep", error });
  }
});

const localFile = config.kvPath && !config.kvPath.startsWith(":") &&
  !/^https?:/.test(config.kvPath);
if (localFile) {
  const dir = config.kvPath!.replace(/[^/]*$/, "");
  if (dir) await Deno.mkdir(dir, { recursive: true });
}
const kv = await Deno.openKv(config.kvPath);
await checkStoreLayout(kv).catch((error) => {
  if (!(error instanceof StoreLayoutError)) throw error;
  console.error(error.message);
  kv.close();
  Deno.exit(1);
});
// A local file's KV has one SQLite thread per handle: a second one lets the event applier's
// (checked) reads run while the first commits (services/deps.ts).
const kvReads = localFile ? await Deno.openKv(config.kvPath) : undefined;
const auditSigningKey = config.auditSigningKey ?? await loadOrCreateSecret(kv, "audit_signing_key");
const demo = config.demo
  ? await startDemo({ config, kv, log }).catch((error) => {
    if (!(error instanceof DemoError)) throw error;
    console.error(error.message);
    kvReads?.close();
    kv.close();
    Deno.exit(1);
  })
  : null;
const resolvedConfig = {
  ...(demo?.config ?? config),
  auditSigningKey,
  auditSigningKeys: config.auditSigningKeys ?? [auditSigningKey],
};

const stripe = createStripeGateway({ kv, clock: systemClock, config: resolvedConfig, log });
const deps = { kv, kvReads, stripe, clock: systemClock, config: resolvedConfig, log };
const services = createServices(deps);
started.services = services;
const app = createApp(deps, services);

function serve() {
  try {
    return Deno.serve({
      port: resolvedConfig.port,
      hostname: "0.0.0.0",
      onListen: ({ port }) =>
        log.info("listening", {
          port,
          demo: resolvedConfig.demo,
          docs: `http://localhost:${port}/docs`,
        }),
    }, app.fetch);
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    console.error(`port ${resolvedConfig.port} is in use; stop what holds it or set PORT`);
    Deno.exit(1);
  }
}
const server = serve();

// Locally the job table is also driven in-process, every few seconds, so
// retries don't wait for the next cron minute. Deno Deploy relies on cron.
let jobLoop: ReturnType<typeof setInterval> | undefined;
if (!resolvedConfig.onDenoDeploy) {
  let running = false;
  jobLoop = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await runJobs(services);
      await runFraudLive(services);
    } catch (error) {
      log.error("job loop failed", { error });
    } finally {
      running = false;
    }
  }, 3000);
}

if (demo) await demo.seed(services);

async function shutdown() {
  clearInterval(jobLoop);
  await server.shutdown();
  await services.identity.close(); // flushes throttle counts held in memory
  await demo?.close();
  kvReads?.close();
  kv.close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", shutdown);
if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", shutdown);
