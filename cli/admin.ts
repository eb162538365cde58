/**
 * The admin CLI: `deno task admin <command>` on the same KV as the server
 * (KV_PATH), through the same identity service, as the system actor `cli`;
 * every change is audited. Safe while the server runs on the same SQLite
 * file: "database is locked" is retried with short backoff for a few seconds.
 *
 * Exit codes: 0 done, 1 failed (not found, conflict, KV locked or unreachable),
 * 2 bad arguments (usage printed).
 */
import {
  type Config,
  ConfigError,
  parseConfig,
  readEnvironment,
  requireSigningKey,
} from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { type CallContext, systemContext } from "../domain/actor.ts";
import { BREAK_GLASS_ACTOR } from "../domain/system_actors.ts";
import type { Deps } from "../services/deps.ts";
import { AppError } from "../core/errors.ts";
import { createLogger } from "../core/log.ts";
import { createServices, type Services } from "../services/mod.ts";
import { type Command, parseArgs, USAGE, UsageError } from "./admin_args.ts";
import { type StripeGateway } from "../services/stripe/mod.ts";
import { cliSigningKey, noSigningKeyForNewStore } from "./demo_store.ts";
import { checkStoreLayout, StoreLayoutError } from "../kv/layout.ts";
import { checkStoreRuntime } from "../kv/runtime_stamp.ts";
import {
  inMemoryStoreError,
  isInMemoryStore,
  isKvConnectUrl,
  KvOpenError,
  openStore,
  prepareStoreFile,
  requireAccessToken,
  storeFileExists,
} from "../kv/open.ts";
import { KvLockedError, retryWhileLocked, withDeadline } from "./admin_lock.ts";
import { nextStep, type Print, updateAccount } from "./admin_update.ts";
import { adminCommand, denoTask } from "./store_command.ts";

interface Io {
  out(line: string): void;
  err(line: string): void;
}

export { parseArgs, USAGE };

const refuseStripe: StripeGateway = {
  call: () => Promise.reject(new Error("the admin CLI does not call Stripe")),
};

/**
 * Opens the store; only `create` may start one where none is (a new deployment's first
 * admin): any other verb on a missing file is a mistyped KV_PATH, refused with nothing made.
 * `:memory:` is refused for every verb: the store would be this process's own.
 */
async function openServices(config: Config, verb: Command["verb"]) {
  if (isInMemoryStore(config.kvPath)) throw inMemoryStoreError("the admin CLI");
  requireAccessToken(config.kvPath, config.kvAccessTokenSet ?? false);
  if (!(await storeFileExists(config.kvPath))) {
    if (verb !== "create") {
      throw new KvOpenError(
        `no store at ${config.kvPath} (KV_PATH; the file does not exist), so no account to ${verb}`,
        "set KV_PATH to the server's store (the KV_PATH `deno task start` runs with, " +
          "./data/kv.sqlite3 by default); nothing was created",
      );
    }
    // a new deployment's store: its server's key seals the first admin's second factor
    if (config.auditSigningKey === undefined) {
      throw noSigningKeyForNewStore(config, "the admin CLI");
    }
    await prepareStoreFile(config.kvPath);
  }
  // `list` only reads: it runs on a store this user may not write (a read-only copy)
  const kv = await retryWhileLocked(() =>
    openStore(config.kvPath, undefined, { readOnly: verb === "list" })
  );
  try {
    await retryWhileLocked(() =>
      checkStoreRuntime(kv, { role: "cli", remote: isKvConnectUrl(config.kvPath), task: "admin" })
    );
    // never a key of its own: only a demo store keeps one, which its demo server made
    // and one that opens what the store sealed, unless the verb only reads
    const signingKey = await retryWhileLocked(() =>
      cliSigningKey(kv, config, "the admin CLI", { sealing: verb !== "list" })
    );
    await retryWhileLocked(() => checkStoreLayout(kv, config.kvPath));
    const deps: Deps = {
      kv,
      stripe: refuseStripe,
      clock: systemClock,
      config: {
        ...config,
        auditSigningKey: signingKey,
        auditSigningKeys: config.auditSigningKeys ?? [signingKey],
      },
      // warnings too: an ops alert the CLI raises (README, Break-glass) is told here as well
      log: createLogger("warn", (line) => console.error(line), {}, config.logFormat),
    };
    return { kv, services: createServices(deps) };
  } catch (e) {
    kv.close();
    throw e;
  }
}

/** `create`: the new admin and its secrets, shown once. */
async function createAdmin(
  identity: Services["identity"],
  ctx: CallContext,
  cmd: Command,
  print: Print,
): Promise<void> {
  const c = await retryWhileLocked(() =>
    identity.createAdmin(ctx, { email: cmd.email!, role: cmd.role! })
  );
  const a = c.admin;
  print({
    id: a.id,
    email: a.email,
    role: a.role,
    token: c.token,
    totp_secret: c.totp_secret,
    otpauth_uri: c.otpauth_uri,
    recovery_codes: c.recovery_codes,
  }, [
    `created admin ${a.id} <${a.email}> with role ${a.role}`,
    "shown once, store them now:",
    `  API token:      ${c.token}`,
    `  TOTP secret:    ${c.totp_secret}`,
    `  otpauth URI:    ${c.otpauth_uri}`,
    `  recovery codes: ${c.recovery_codes.join(" ")}`,
  ]);
}

/** Runs one verb; returns whether it wrote to the store. */
async function run(cmd: Command, config: Config, io: Io): Promise<boolean> {
  // the admin CLI as the person types it for this store (never :memory:, refused above)
  const cli = adminCommand(config.kvPath) ?? denoTask("admin");
  const { kv, services } = await openServices(config, cmd.verb);
  const identity = services.identity;
  // break-glass: its audit entries say so, and an operator or admin it makes, re-enables or
  // promotes raises an ops alert (README, "Break-glass")
  const ctx = systemContext(BREAK_GLASS_ACTOR);
  const print: Print = (json, human) =>
    cmd.json
      ? io.out(
        JSON.stringify(cmd.verb === "list" ? json : { ...json as object, store: config.kvPath }),
      )
      : human.forEach((l) => io.out(l));
  try {
    switch (cmd.verb) {
      case "create": {
        await createAdmin(identity, ctx, cmd, print);
        return true;
      }
      case "list": {
        const admins = await retryWhileLocked(() => identity.allAdmins());
        print(
          admins,
          admins.length === 0 ? [`no admins yet: ${cli} create --email E --role admin`] : [
            ["id", "email", "role", "status", "created_at"].join("\t"),
            ...admins.map((a) => [a.id, a.email, a.role, a.status, a.created_at].join("\t")),
          ],
        );
        return false;
      }
      case "disable":
      case "enable":
      case "set-role":
        return await updateAccount(identity, ctx, cmd, print, cli);
      case "reset-2fa": {
        const r = await retryWhileLocked(() => identity.resetSecondFactor(ctx, cmd.id!));
        print({
          id: r.admin.id,
          email: r.admin.email,
          totp_secret: r.totp_secret,
          otpauth_uri: r.otpauth_uri,
          recovery_codes: r.recovery_codes,
        }, [
          `new second factor for ${r.admin.id} <${r.admin.email}>; shown once:`,
          `  TOTP secret:    ${r.totp_secret}`,
          `  otpauth URI:    ${r.otpauth_uri}`,
          `  recovery codes: ${r.recovery_codes.join(" ")}`,
        ]);
        return true;
      }
      case "rotate-token": {
        const r = await retryWhileLocked(() => identity.rotateToken(ctx, cmd.id!));
        print({ id: r.admin.id, email: r.admin.email, token: r.token }, [
          `new API token for ${r.admin.id} <${r.admin.email}> (the old one no longer works); shown once:`,
          `  API token: ${r.token}`,
        ]);
        return true;
      }
    }
  } finally {
    kv.close();
  }
}

export interface AdminCliOptions {
  /** how long the whole command may wait for the KV lock (default 8 s) */
  lockWaitMs?: number;
}

/** Runs the CLI; returns the exit code. */
export async function adminCli(
  args: string[],
  env: Record<string, string | undefined>,
  io: Io = { out: (l) => console.log(l), err: (l) => console.error(l) },
  options: AdminCliOptions = {},
): Promise<number> {
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h" || args[0] === "help")) {
    io.out(USAGE);
    return 0;
  }
  let cmd: Command;
  try {
    cmd = parseArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`error: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  // the admin CLI as typed for the store it runs on, in what it says next
  let cli = denoTask("admin");
  try {
    // its warnings go to stderr: one short line on a terminal, as the server's logs are
    const config = parseConfig(env, { terminal: Deno.stderr.isTerminal() });
    requireSigningKey(config, "the admin CLI");
    cli = adminCommand(config.kvPath) ?? cli;
    const wrote = await withDeadline(
      run(cmd, config, io),
      options.lockWaitMs ?? 8_000,
      config.kvPath,
    );
    // which store, so a KV_PATH other than the server's shows (README, Commands): with --json
    // the object's `store`, else one line on stderr (stdout stays what the verb prints)
    if (cmd.verb !== "list" && !cmd.json) {
      io.err(
        `${wrote ? "wrote to" : "nothing written to"} the store at ${config.kvPath} (KV_PATH)`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof AppError && e.code === "validation_failed") {
      // the service names the API's field (body.email); here it is the flag (--email)
      io.err(`error: ${e.message.replace(/\bbody\.([a-z_]+)/g, "--$1")}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof AppError) {
      io.err(`error: ${e.message}${nextStep(e, cli)}`);
      return 1;
    }
    if (
      e instanceof ConfigError || e instanceof KvLockedError ||
      e instanceof StoreLayoutError || e instanceof KvOpenError
    ) {
      io.err(`error: ${e.message}`);
      return 1;
    }
    io.err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await adminCli(Deno.args, readEnvironment()));
}
