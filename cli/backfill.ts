/**
 * `deno task backfill --since 30d` (or `12h`, `90m`, `2026-11-01`): pulls what
 * Stripe holds since then through the gateway and applies it like webhooks.
 * Safe to run again (nothing changes the second time) and safe to run while
 * the server is up on the same KV file (a locked database is retried, then
 * reported).
 *
 * In demo mode (no STRIPE_SECRET_KEY and no STRIPE_API_URL) it talks to the
 * running demo's emulator on 127.0.0.1:STRIPE_EMULATOR_PORT.
 */
import { ConfigError, parseConfig, readEnvironment, requireSigningKey } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { createLogger } from "../core/log.ts";
import { createStripeGateway } from "../services/stripe/mod.ts";
import { createServices } from "../services/mod.ts";
import { AppError } from "../core/errors.ts";
import {
  BACKFILL_KINDS,
  type BackfillProgress,
  createBackfillService,
  parseSince,
  withLockRetry,
} from "../services/backfill.ts";
import { cliSigningKey } from "./demo_store.ts";
import { checkStoreLayout, StoreLayoutError } from "../kv/layout.ts";
import { checkStoreRuntime } from "../kv/runtime_stamp.ts";
import {
  inMemoryStoreError,
  isInMemoryStore,
  isKvConnectUrl,
  KvOpenError,
  openStore,
  requireAccessToken,
  storeFileExists,
} from "../kv/open.ts";

const USAGE = `usage: deno task backfill --since <30d | 12h | 90m | 2026-11-01> [--quiet]

Pages through Stripe's customers, payment intents, charges, refunds, disputes,
Radar early fraud warnings and reviews created since then and applies each like
a webhook, recovering events Stripe never delivered. Re-running changes nothing.`;

function parseArgs(args: string[]): { since: string; quiet: boolean } {
  let since: string | undefined;
  let quiet = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    } else if (a === "--since") since = args[++i];
    else if (a.startsWith("--since=")) since = a.slice("--since=".length);
    else if (a === "--quiet") quiet = true;
    else fail(`unknown argument "${a}"\n\n${USAGE}`);
  }
  if (!since) fail(`--since is required\n\n${USAGE}`);
  return { since: since!, quiet };
}

function fail(message: string): never {
  console.error(message);
  Deno.exit(1);
}

const encoder = new TextEncoder();

/** A bar over the five phases on a terminal; one plain line per page otherwise. */
function progressPrinter(quiet: boolean): (p: BackfillProgress) => void {
  if (quiet) return () => {};
  if (Deno.stdout.isTerminal()) {
    return (p) => {
      const width = 30;
      const filled = Math.round(width * (p.phase - (p.done ? 0 : 1)) / p.phases);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      const line = `\r[${bar}] ${p.phase}/${p.phases} ${p.kind.padEnd(16)} ${p.applied} applied`;
      Deno.stdout.writeSync(encoder.encode(line + (p.done && p.phase === p.phases ? "\n" : "")));
    };
  }
  return (p) =>
    console.log(
      p.applied === 0 && !p.done
        ? `backfill: ${p.kind}: listing (${p.phase}/${p.phases})`
        : `backfill: ${p.kind}: ${p.applied} applied${p.done ? " (done)" : ""}`,
    );
}

async function main(): Promise<void> {
  const { since, quiet } = parseArgs(Deno.args);
  const env = readEnvironment();
  let config;
  try {
    config = parseConfig(env);
    requireSigningKey(config, "the backfill");
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  // a store of its own would be filled, then dropped at exit: the server's is never reached
  if (isInMemoryStore(config.kvPath)) fail(inMemoryStoreError("the backfill").message);
  try {
    requireAccessToken(config.kvPath, config.kvAccessTokenSet ?? false);
  } catch (error) {
    if (error instanceof KvOpenError) fail(error.message);
    throw error;
  }
  if (config.demo && !env.STRIPE_API_URL) {
    config = {
      ...config,
      stripe: { ...config.stripe, apiUrl: `http://127.0.0.1:${config.stripe.emulatorPort}` },
    };
    if (!quiet) console.log(`demo mode: backfilling from the emulator at ${config.stripe.apiUrl}`);
  }
  const sinceMs = parseSince(since, systemClock.now());
  const log = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  // The server's store, never a new one: a mistyped KV_PATH would be filled and never read.
  const there = await storeFileExists(config.kvPath).catch((error) => {
    if (error instanceof KvOpenError) fail(error.message);
    throw error;
  });
  if (!there) {
    fail(
      `no store at ${config.kvPath} (KV_PATH; the file does not exist): the backfill fills the ` +
        "server's store; set KV_PATH to the one `deno task start` runs with (./data/kv.sqlite3 " +
        "by default), or start the server once to make it; nothing was created",
    );
  }
  const kv = await withLockRetry(() => openStore(config.kvPath)).catch((error) => {
    if (error instanceof KvOpenError) fail(error.message);
    throw error;
  });
  try {
    const remote = isKvConnectUrl(config.kvPath);
    // never a key of its own: only a demo store keeps one, which its demo server made
    let auditSigningKey = "";
    await withLockRetry(() => checkStoreRuntime(kv, { role: "cli", remote, task: "backfill" }))
      .then(async () => {
        auditSigningKey = await withLockRetry(() => cliSigningKey(kv, config, "the backfill"));
      })
      .then(() => withLockRetry(() => checkStoreLayout(kv, config.kvPath))).catch((error) => {
        if (error instanceof StoreLayoutError || error instanceof ConfigError) {
          kv.close();
          fail(error.message);
        }
        throw error;
      });
    const resolved = {
      ...config,
      auditSigningKey,
      auditSigningKeys: config.auditSigningKeys ?? [auditSigningKey],
    };
    const stripe = createStripeGateway({ kv, clock: systemClock, config: resolved, log });
    const deps = { kv, stripe, clock: systemClock, config: resolved, log };
    const services = createServices(deps);
    const backfill = createBackfillService(deps, { applier: services.stripeEvents });
    if (!quiet) console.log(`backfill since ${new Date(sinceMs).toISOString()}`);
    const run = await backfill.run({ since: sinceMs, onProgress: progressPrinter(quiet) });
    // read, and of those changed: a second run reads as much and changes nothing
    const summary = BACKFILL_KINDS.map((k) => `${k} ${run.counts[k]} (${run.changed[k]} changed)`)
      .join(", ");
    const changed = BACKFILL_KINDS.reduce((n, k) => n + run.changed[k], 0);
    console.log(
      `backfill done in ${((run.finished_at - run.started_at) / 1000).toFixed(1)} s: ${summary}; ` +
        (changed === 0
          ? "nothing changed: the service already had everything as Stripe has it"
          : `${changed} recovered or brought up to date`),
    );
  } finally {
    kv.close();
  }
}

try {
  await main();
} catch (error) {
  if (error instanceof AppError) {
    const hint = error.code === "stripe_unavailable"
      ? "\n(is Stripe reachable? in demo mode, is `deno task start` running, with the same " +
        "KV_PATH and STRIPE_EMULATOR_PORT as this command?)"
      : "";
    fail(`backfill failed: ${error.message}${hint}`);
  }
  throw error;
}
