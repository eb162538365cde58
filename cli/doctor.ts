/**
 * `deno task doctor`: checks configuration, the KV store (reachable, layout),
 * the Stripe key (mode, reachability, a restricted key's reads), the webhook
 * endpoint at Stripe (URL, events, API version), webhook secrets, the signing
 * key, the first admin's variables and the crons (names, last runs). Prints each finding with
 * its fix; exits 1 when something is wrong, 0 otherwise (warnings do not fail). `--no-store`
 * checks what needs no access to the store (README, Doctor), for a deployment whose KV only its
 * server reaches.
 */
import { checkSigningKeyOpens } from "./doctor_keys.ts";
import { type Config, ConfigError, parseConfig, readEnvironment } from "../config.ts";
import { keys } from "../kv/keys.ts";
import { isInMemoryStore, isKvConnectUrl, MISSING_ACCESS_TOKEN } from "../kv/open.ts";
import { checkCrons, checkKv, checkSecrets, type Finding } from "./doctor_checks.ts";
import { checkStripe, doctorStripeClient } from "./doctor_stripe.ts";
import { cronSchedules } from "../services/background.ts";
import { judgeDemoStore } from "./demo_store.ts";
import { demoStoreKind } from "../kv/demo.ts";
import { credentialsPlace } from "./demo_credentials.ts";
import { checkFirstAdmin } from "./doctor_first_admin.ts";

export interface DoctorOptions {
  env: Record<string, string | undefined>;
  /**
   * whether standard output and error are terminals, where the server would start (its log
   * format and the demo's credentials go by them); default: the doctor's own
   */
  terminal?: { stdout: boolean; stderr: boolean };
  openKv?: (path: string | undefined) => Promise<Deno.Kv>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  now?: number;
  /** `--no-store`: the store is not opened; its checks are named as skipped */
  noStore?: boolean;
}

/**
 * What `--no-store` leaves out, and where the running server shows it instead (README, Doctor).
 */
export const NO_STORE_FINDING: Finding = {
  check: "kv",
  severity: "warn",
  detail: "not opened (--no-store): the store's reachability, layout and Deno, the signing key " +
    "against its sealed secrets, the key's mode against its events, the first admin and the " +
    "crons' last runs are not checked",
  fix: "see them on the running server: GET /readyz (200 while its KV answers) and GET /metrics " +
    "(payops_cron_last_run_timestamp_seconds, payops_cron_runs_total); or run the doctor " +
    "without --no-store where the store can be reached",
};

export const DOCTOR_USAGE = "usage: deno task doctor [--no-store]";

export async function runDoctor(options: DoctorOptions): Promise<Finding[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let config: Config;
  try {
    config = parseConfig(options.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [{
      check: "configuration",
      severity: "fail",
      detail: error.message.replace(/^invalid configuration:\n/, "").replace(/\n\s*/g, "; "),
      fix: "correct the variables named (README, Configuration); nothing else can be checked first",
    }];
  }
  const findings: Finding[] = [{ check: "configuration", severity: "ok", detail: "parses" }];
  if (!options.noStore && isKvConnectUrl(config.kvPath) && !config.kvAccessTokenSet) {
    // what the server and the CLIs say before they open it (kv/open.ts)
    findings.push({ check: "kv", severity: "fail", ...MISSING_ACCESS_TOKEN });
    return findings;
  }
  const missing = await missingStoreFile(config.kvPath);
  // a checking tool creates nothing: opening a mistyped path would make an empty store there;
  // and `:memory:` would be a store of the doctor's own, empty, never the server's
  const { findings: kvFindings, kv } = options.noStore
    ? { kv: null, findings: [NO_STORE_FINDING] }
    : isInMemoryStore(config.kvPath)
    ? {
      kv: null,
      findings: [{
        check: "kv",
        severity: "warn" as const,
        detail: "KV_PATH=:memory: is an in-memory store: one the doctor opened would be its own, " +
          "empty, never the server's (reached only through the server's API); the store, its " +
          "layout and the cron runs are not checked",
        fix: "to check the server's store, run the doctor with the server's file KV_PATH or KV " +
          "Connect URL (README, Configuration)",
      }],
    }
    : missing
    ? {
      kv: null,
      findings: [{
        check: "kv",
        severity: "warn" as const,
        detail: `no store at ${missing} (the file does not exist); the first start would create ` +
          "an empty one there",
        fix: "if this deployment has data, correct KV_PATH (README, Configuration); on a first " +
          "install this is expected",
      }],
    }
    : await checkKv(config, options.openKv ?? ((p) => Deno.openKv(p)), timeoutMs);
  try {
    const stored = kv ? (await kv.get(keys.secret("audit_signing_key"))).value !== null : false;
    findings.push(...checkSecrets(config, stored), ...kvFindings);
    if (kv) findings.push(...await checkSigningKeyOpens(kv, config));
    if (config.demo) findings.push(...await checkDemo(config, kv, options));
    if (!config.demo) {
      const stripe = doctorStripeClient(config, options.fetch ?? fetch, timeoutMs);
      findings.push(...await checkStripe(config, stripe, kv));
    }
    findings.push(...await checkFirstAdmin(config, kv, options.now ?? Date.now()));
    findings.push(...await checkCrons(kv, options.now ?? Date.now(), cronSchedules(config)));
  } finally {
    kv?.close();
  }
  return findings;
}

/**
 * What demo mode's start refuses, or warns of: a store it did not make (cli/demo_store.ts), and
 * nowhere to show the demo admin's credentials (cli/demo_credentials.ts).
 */
async function checkDemo(
  config: Config,
  kv: Deno.Kv | null,
  options: DoctorOptions,
): Promise<Finding[]> {
  const out: Finding[] = [];
  if (kv) {
    // its layout is a finding of its own ("kv layout")
    const verdict = judgeDemoStore(await demoStoreKind(kv), config);
    if (!verdict.ok) out.push({ check: "demo store", severity: "fail", ...verdict });
  }
  const terminal = options.terminal ??
    { stdout: Deno.stdout.isTerminal(), stderr: Deno.stderr.isTerminal() };
  const place = credentialsPlace(
    parseConfig(options.env, { terminal: terminal.stdout }),
    terminal.stderr,
  );
  if (place.kind === "refuse") {
    out.push({ check: "demo credentials", severity: "fail", detail: place.detail, fix: place.fix });
  }
  return out;
}

const MARK = { ok: "ok  ", warn: "warn", fail: "FAIL" } as const;

export function formatFindings(findings: Finding[]): string {
  const lines = findings.map((f) =>
    `${MARK[f.severity]}  ${f.check}: ${f.detail}` + (f.fix ? `\n        fix: ${f.fix}` : "")
  );
  const failed = findings.filter((f) => f.severity === "fail").length;
  const warned = findings.filter((f) => f.severity === "warn").length;
  lines.push(
    failed
      ? `\n${failed} problem(s), ${warned} warning(s): fix the FAIL lines above`
      : `\nall good (${warned} warning(s))`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  if (Deno.args.some((a) => a === "--help" || a === "-h")) {
    console.log(DOCTOR_USAGE);
    Deno.exit(0);
  }
  const unknown = Deno.args.filter((a) => a !== "--no-store");
  if (unknown.length) {
    console.error(`error: unknown argument ${unknown[0]}\n${DOCTOR_USAGE}`);
    Deno.exit(2);
  }
  const findings = await runDoctor({
    env: readEnvironment(),
    noStore: Deno.args.includes("--no-store"),
  });
  console.log(formatFindings(findings));
  Deno.exit(findings.some((f) => f.severity === "fail") ? 1 : 0);
}

/** The local KV file named by `kvPath` when it does not exist; null otherwise (or not a file). */
async function missingStoreFile(kvPath: string | undefined): Promise<string | null> {
  if (!kvPath || kvPath === ":memory:" || isKvConnectUrl(kvPath)) return null;
  try {
    await Deno.stat(kvPath);
    return null;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return kvPath;
    return null; // unreadable: opening it says why
  }
}
