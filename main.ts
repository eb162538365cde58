/**
 * Composition root: config -> kv -> (demo: emulator) -> stripe gateway ->
 * services -> app -> Deno.serve, plus the cron registrations. The only module
 * (with config.ts and the CLIs) that reads the environment or opens KV.
 */
import { type Config, ConfigError, parseConfig, requireSigningKey } from "./config.ts";
import { createApp } from "./app.ts";
import { createDrain } from "./routes/drain.ts";
import { systemClock } from "./core/clock.ts";
import { createLogger } from "./core/log.ts";
import { withLogFields } from "./core/log_context.ts";
import { createStripeGateway } from "./services/stripe/mod.ts";
import { createServices, type Services } from "./services/mod.ts";
import {
  cronSchedules,
  type PeriodicTask,
  runJobs,
  runPeriodicTask,
} from "./services/background.ts";
import { loadOrCreateSecret } from "./kv/secrets.ts";
import { checkStoreLayout, StoreLayoutError } from "./kv/layout.ts";
import { checkStoreRuntime } from "./kv/runtime_stamp.ts";
import { indexAlertCustomers } from "./kv/fraud.ts";
import { backfillJudged, retainJudged } from "./services/fraud/judged.ts";
import {
  isKvConnectUrl,
  KvOpenError,
  openSecondHandle,
  openStore,
  prepareStoreFile,
  requireAccessToken,
} from "./kv/open.ts";
import { checkDemoStore, refusal } from "./cli/demo_store.ts";
import { markDemoStore, markStoreServedLive } from "./kv/demo.ts";
import { DemoError, startDemo } from "./cli/demo.ts";
import { StatusLine, STDOUT } from "./cli/status_line.ts";
import { watchAncestors } from "./cli/ancestry.ts";
import { closeServer } from "./core/server_close.ts";
import { finishWithin } from "./core/deadline.ts";
import { withKvDeadline } from "./kv/deadline.ts";
import { createMetrics } from "./core/metrics.ts";
import { knowCronTasks, timedCronRun } from "./services/metrics.ts";
import { runFraudLive } from "./services/fraud/mod.ts";

let config: Config;
try {
  config = parseConfig(Deno.env.toObject(), { terminal: Deno.stdout.isTerminal() });
  requireSigningKey(config, "the server");
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  Deno.exit(1);
}
// Log lines and the demo's progress line share standard output (cli/status_line.ts).
const screen = new StatusLine(STDOUT);
const log = createLogger(config.logLevel, (line) => screen.line(line), {}, config.logFormat);
const metrics = createMetrics();

// Crons are registered at the top level, before any await, as Deno Deploy
// requires; until the services exist they have nothing to do.
const started: { services?: Services } = {};
knowCronTasks(metrics, Object.keys(cronSchedules(config)));
for (const [task, schedule] of Object.entries(cronSchedules(config))) {
  Deno.cron(task, schedule, { backoffSchedule: [] }, async () => {
    if (!started.services) return;
    const services = started.services;
    // its lines (its jobs' too) name the task
    await withLogFields({ cron: task }, async () => {
      try {
        await timedCronRun(
          services.deps,
          task,
          () => runPeriodicTask(services, task as PeriodicTask),
        );
      } catch (error) {
        log.error("cron task failed", { error });
      }
    });
  });
}

const localFile = config.kvPath && !config.kvPath.startsWith(":") &&
  !isKvConnectUrl(config.kvPath);
const opened = await Promise.resolve().then(() =>
  requireAccessToken(config.kvPath, config.kvAccessTokenSet ?? false)
).then(() => prepareStoreFile(config.kvPath)).then(() => openStore(config.kvPath)).catch(
  (error) => {
    if (!(error instanceof KvOpenError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  },
);
// A remote store (a KV Connect URL, Deno Deploy's KV) that stops answering fails each operation
// after KV_DEADLINE_MS with 503 unavailable instead of holding it (kv/deadline.ts; README,
// "Quick start"). A local file or :memory: answers or fails by itself.
const kv = localFile || config.kvPath === ":memory:" ? opened : withKvDeadline(opened);
// Demo mode seeds, and keeps a generated signing key, only in a store of its own: judged before
// anything is written (cli/demo_store.ts; README, Quick start).
const demoStore = config.demo
  ? await checkDemoStore(kv, config).catch((error) => {
    if (!(error instanceof StoreLayoutError)) throw error;
    console.error(error.message);
    kv.close();
    Deno.exit(1);
  })
  : null;
if (demoStore && !demoStore.ok) {
  console.error(refusal(demoStore));
  kv.close();
  Deno.exit(1);
}
// Which Deno serves the store, first: a value this Deno cannot read fails every read after it
// (kv/runtime_stamp.ts; README, Deploying to Deno Deploy).
// Through a KV Connect URL a newer Deno takes the store over only with KV_RUNTIME_TAKEOVER=1.
await checkStoreRuntime(kv, {
  role: "server",
  remote: isKvConnectUrl(config.kvPath),
  task: "start",
  takeover: config.kvRuntimeTakeover,
})
  .then((tookOver) => {
    if (tookOver) log.warn(tookOver);
  })
  .then(() => checkStoreLayout(kv, config.kvPath)).catch((error) => {
    if (!(error instanceof StoreLayoutError)) throw error;
    console.error(error.message);
    kv.close();
    Deno.exit(1);
  });
// before anything else is written: a store demo mode starts on stays a demo store
if (demoStore?.ok) await markDemoStore(kv, systemClock.now());
// with a Stripe key real money goes through it: no demo store from then on (README, Quick start)
if (!config.demo && await markStoreServedLive(kv, systemClock.now())) {
  log.warn("this store was the demo's; from now on demo mode refuses it");
}
// Open fraud alerts stored before each customer they name was indexed (README "Retry policy").
await indexAlertCustomers(kv);
// Alerts stored before what they judged was recorded, and what was judged before it was kept for
// a bounded time (README "Fraud detection", Alerts).
await backfillJudged(kv, systemClock);
await retainJudged(kv, systemClock);
// A local file's KV has one SQLite thread per handle: a second one lets the event applier's
// (checked) reads run while the first commits (services/deps.ts). It is handed out once its
// opening pass (deleting expired keys, a write) is over, so that pass never holds the lock
// while the first handle's checked commits run (kv/open.ts).
const kvReads = localFile ? await openSecondHandle(config.kvPath!) : undefined;
const auditSigningKey = config.auditSigningKey ?? await loadOrCreateSecret(kv, "audit_signing_key");
const demo = config.demo
  ? await startDemo({ config, kv, log, screen }).catch((error) => {
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

const stripe = createStripeGateway({
  kv,
  clock: systemClock,
  config: resolvedConfig,
  log,
  metrics,
  // the demo's SDK connections to its emulator close with it (cli/demo.ts)
  fetch: demo?.fetch,
});
const deps = { kv, kvReads, stripe, clock: systemClock, config: resolvedConfig, log, metrics };
const services = createServices(deps);
started.services = services;
// a store with no admin gets FIRST_ADMIN_EMAIL's account (README, Deploying to Deno Deploy)
if (config.firstAdmin) await services.identity.startFirstAdmin(config.firstAdmin);
// Requests that arrive once a stop began are refused by the app itself, so they are logged and
// counted like any other (routes/drain.ts).
const app = createApp(deps, services, { stopping: () => drain.stopping() });
const drain = createDrain(app.fetch);
const inFlightGauge = services.metrics.gauge(
  "payops_http_requests_in_flight",
  "Requests taken and not yet done: bodies still arriving, and answers still being sent",
);
services.metrics.onCollect(() => Promise.resolve(inFlightGauge.set({}, drain.inFlight())));
/** how long a stop waits for requests in flight (a slow upload, a Stripe call, an export) */
const DRAIN_DEADLINE_MS = 25_000;
/**
 * How long a stop waits for each step after the drain (the identity throttle's flush, the
 * demo's emulator): a store or emulator that never answers does not hold the process.
 */
const STEP_DEADLINE_MS = 5_000;

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
    }, drain.fetch);
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
let jobRun: Promise<void> | null = null;
if (!resolvedConfig.onDenoDeploy) {
  jobLoop = setInterval(() => {
    if (jobRun) return;
    jobRun = runJobs(services).then(() => runFraudLive(services)).then(
      () => {},
      (error) => log.error("job loop failed", { error }),
    ).finally(() => jobRun = null);
  }, 3000);
}

/** when the first signal came (ms), or null while running */
let stoppingSince: number | null = null;
/**
 * A signal this soon after the first is the same one delivered twice: Ctrl-C
 * reaches every process of the terminal's foreground group, and `deno task`
 * (or `npx`) also passes it on to this one.
 */
const SAME_SIGNAL_MS = 1000;
/**
 * Stops taking requests, lets in-flight ones (and their commits) and a running
 * job pass finish, flushes what the identity throttle holds in memory, closes
 * KV, and says so. A second signal while that runs (not the first one passed
 * on again) stops at once.
 */
async function shutdown(reason: string) {
  if (stoppingSince !== null) {
    if (performance.now() - stoppingSince < SAME_SIGNAL_MS) return;
    log.warn("stopping now, without waiting", { reason });
    Deno.exit(1);
  }
  stoppingSince = performance.now();
  log.info("stopping: finishing in-flight requests", { reason, in_flight: drain.inFlight() });
  clearInterval(jobLoop);
  stopWatching();
  const { unfinished } = await drain.stop(DRAIN_DEADLINE_MS);
  if (unfinished > 0) log.warn("stopping with requests still in flight", { unfinished });
  if (await closeServer(server) === "cut") {
    log.info("not waiting on connections still open: they close with the process");
  }
  // the job pass ran beside the drain: it has what is left of the drain's time (at least 1 s)
  const jobTime = Math.max(1_000, DRAIN_DEADLINE_MS - (performance.now() - stoppingSince));
  const warn = (msg: string, fields: Record<string, unknown>) => log.warn(msg, fields);
  await finishWithin("the running job pass", () => jobRun, jobTime, warn);
  await finishWithin(
    "flushing the identity throttle's counts",
    () => services.identity.close(),
    STEP_DEADLINE_MS,
    warn,
  );
  await finishWithin(
    "closing the demo's Stripe emulator",
    () => demo?.close(),
    STEP_DEADLINE_MS,
    warn,
  );
  for (const handle of [kvReads, kv]) {
    try {
      handle?.close();
    } catch (error) {
      log.warn("stopping: closing KV failed", { error });
    }
  }
  log.info("stopped", { reason });
  Deno.exit(0);
}

// a signal before the watch below has started stops nothing of it (it was not yet watching)
let stopWatching = () => {};
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));

// Started through a wrapper (`npx deno task start`), a signal to the wrapper's
// pid never reaches this process: when a process above goes, stop as if told to.
stopWatching = await watchAncestors((pid) => shutdown(`process ${pid} above this one exited`));

if (demo) {
  demo.seed(services).catch((error) => log.error("demo setup failed", { error }));
}
