/**
 * Which stores demo mode runs on, and where a CLI run without AUDIT_SIGNING_KEY gets its key
 * (README, Quick start; Secrets a deployment must set). Demo mode seeds fake customers,
 * payments and disputes for good and generates a signing key kept in the store: only on a
 * store of its own (new, or one it made). A store holding anything else (a deployment's, a
 * copy of one, admins made with the CLI) is refused before anything is written, DEMO=1 or not.
 */
import { type Config, ConfigError } from "../config.ts";
import { checkStoreLayout, newStoreHint } from "../kv/layout.ts";
import { keys } from "../kv/keys.ts";
import { type DemoStoreKind, demoStoreKind } from "../kv/demo.ts";
import { trySealedSecrets } from "./doctor_keys.ts";

export type DemoStoreVerdict =
  | { ok: true }
  | { ok: false; detail: string; fix: string };

const where = (config: Config) => config.kvPath ?? "the platform KV (Deno Deploy)";
const NOT_DEMO = "holds data demo mode did not make (a deployment's store or a copy of one, " +
  "admins made with `deno task admin`) or was served with a STRIPE_SECRET_KEY";

/**
 * Whether the server in demo mode may run on a store of `kind` (and seed it). Never on a store it
 * did not make, DEMO=1 or not: its jobs (refund and dispute reconciliation, retries) would ask the
 * emulator about Stripe objects it never held and record what it answers.
 */
export function judgeDemoStore(kind: DemoStoreKind, config: Config): DemoStoreVerdict {
  // unreadable: the runtime check refuses it, naming the Deno to use
  if (kind !== "other") return { ok: true };
  const mode = config.demoRequested ? "demo mode (DEMO=1)" : "demo mode (no STRIPE_SECRET_KEY)";
  return {
    ok: false,
    detail: `${mode} will not run on the store at ${where(config)}: it ${NOT_DEMO}, where the ` +
      "demo would seed fake customers, payments and disputes for good and its jobs would settle " +
      "this store's refunds and disputes against the emulator, which holds none of them",
    fix: "to serve this store, start with its STRIPE_SECRET_KEY and AUDIT_SIGNING_KEY (and no " +
      `DEMO); for the demo, start on a new store (${newStoreHint(config.kvPath)})`,
  };
}

/** `judgeDemoStore`'s refusal as one message: what, then the fix. */
export function refusal(verdict: { detail: string; fix: string }): string {
  return `${verdict.detail}; nothing was written. ${verdict.fix[0].toUpperCase()}` +
    verdict.fix.slice(1);
}

/**
 * The store's kind and the server's verdict on it (reads only). A store of another layout is
 * refused as such first (a StoreLayoutError): starting on a new store is its fix either way.
 */
export async function checkDemoStore(
  kv: Deno.Kv,
  config: Config,
): Promise<DemoStoreVerdict> {
  const kind = await demoStoreKind(kv);
  if (kind === "other") await checkStoreLayout(kv, config.kvPath);
  return judgeDemoStore(kind, config);
}

function noSigningKey(config: Config, who: string, reason: string, isNew: boolean): ConfigError {
  return new ConfigError(
    `AUDIT_SIGNING_KEY is not set, and the store at ${where(config)} ${reason}: ${who} makes ` +
      "no signing key of its own (the server, which runs with AUDIT_SIGNING_KEY, could not open " +
      "the second factors it sealed); nothing was written. Set AUDIT_SIGNING_KEY to the key the " +
      "server runs with (README, Secrets a deployment must set)" +
      // only where demo mode would run: it refuses any other store
      (isNew
        ? "; for the demo, start `deno task start` on this store first: demo mode makes the key " +
          "and keeps it there"
        : ""),
  );
}

/** A CLI with no store at KV_PATH yet and no AUDIT_SIGNING_KEY: refused before it makes one. */
export function noSigningKeyForNewStore(config: Config, who: string): ConfigError {
  return noSigningKey(config, who, "does not exist yet", true);
}

/**
 * The key a CLI (admin, backfill) signs and seals with: AUDIT_SIGNING_KEY, or without it (no
 * Stripe key either) the one demo mode generated and keeps in a demo store; any other store is
 * refused with a ConfigError saying to set AUDIT_SIGNING_KEY. Unless `sealing` is false (a
 * command that only reads), a key that opens none of the store's sealed TOTP secrets is refused
 * too: it is not the server's, and what it sealed the server could never open (README, Secrets a
 * deployment must set). Reads only.
 */
export async function cliSigningKey(
  kv: Deno.Kv,
  config: Config,
  who: string,
  options: { sealing?: boolean } = {},
): Promise<string> {
  const key = config.auditSigningKey ?? await demoSigningKey(kv, config, who);
  if (options.sealing === false) return key;
  const listed = config.auditSigningKey !== undefined ? config.auditSigningKeys ?? [] : [];
  const { tried, failed } = await trySealedSecrets(kv, key, listed, { firstOpens: true });
  // one that opens is enough; a store with none passes
  if (tried === 0 || failed.length < tried) return key;
  const named = config.auditSigningKey !== undefined
    ? "AUDIT_SIGNING_KEY"
    : "the demo's generated signing key";
  throw new ConfigError(
    `${named} opens none of the sealed TOTP secrets in the store at ${where(config)} (${tried} ` +
      `checked): it is not the key the server runs with; nothing was written. Set ` +
      "AUDIT_SIGNING_KEY to the key the server runs with (README, Secrets a deployment must " +
      `set): what ${who} sealed with another, the server could never open (503 ` +
      "configuration_error at every step-up)",
  );
}

/** Without AUDIT_SIGNING_KEY: the key demo mode generated, on a demo store only. */
async function demoSigningKey(kv: Deno.Kv, config: Config, who: string): Promise<string> {
  const kind = await demoStoreKind(kv);
  if (kind === "demo") {
    const generated = (await kv.get<string>(keys.secret("audit_signing_key"))).value;
    if (generated !== null) return generated;
  }
  // a store of another layout says so first (a store with data: read only, nothing stamped)
  if (kind === "other") await checkStoreLayout(kv, config.kvPath);
  throw noSigningKey(
    config,
    who,
    kind === "empty"
      ? "is new (no server has started on it)"
      : kind === "demo"
      ? "is a demo store whose server runs with AUDIT_SIGNING_KEY"
      : NOT_DEMO,
    kind === "empty",
  );
}
