/**
 * The checks of `deno task doctor`, each a finding with the fix. They read and
 * never write: the KV store, Stripe (cheap GETs), the environment. The one commit,
 * that the store takes writes, has a check that cannot pass: it changes nothing.
 */
import Stripe from "stripe";
import type { Config } from "../config.ts";
import { keys } from "../kv/keys.ts";
import { isEmpty, STORE_LAYOUT } from "../kv/layout.ts";
import {
  describeKvOpenFailure,
  describeReadOnlyStore,
  isKvConnectUrl,
  isReadOnlyStore,
  probeStoreWrite,
  retryLockedCommits,
} from "../kv/open.ts";
import { isKvLocked } from "../kv/atomic.ts";
import {
  currentRuntime,
  judgeRuntime,
  readStoreRuntime,
  storeContents,
  type StoreRuntime,
} from "../kv/runtime_stamp.ts";
import { HANDLED_EVENT_TYPES } from "../domain/stripe_events.ts";
import { cronIntervalS } from "../core/cron_schedule.ts";
import { type CronRun, lastCronRuns, lastCronRunsByOutcome } from "../services/metrics.ts";

export type Severity = "ok" | "warn" | "fail";

export interface Finding {
  check: string;
  severity: Severity;
  detail: string;
  /** what to do; present on warn and fail */
  fix?: string;
}

export const WEBHOOK_PATH = "/api/webhooks/stripe";
/** The API version of the pinned `stripe` SDK: what this service's Stripe calls speak. */
export const SDK_API_VERSION = Stripe.API_VERSION;

const ok = (check: string, detail: string): Finding => ({ check, severity: "ok", detail });
const warn = (check: string, detail: string, fix: string): Finding => ({
  check,
  severity: "warn",
  detail,
  fix,
});
const fail = (check: string, detail: string, fix: string): Finding => ({
  check,
  severity: "fail",
  detail,
  fix,
});

export function checkSecrets(config: Config, storedSigningKey: boolean): Finding[] {
  const out: Finding[] = [];
  if (config.demo) {
    out.push(warn(
      "mode",
      config.demoRequested
        ? "demo mode (DEMO=1): the built-in emulator plays Stripe"
        : "demo mode: no STRIPE_SECRET_KEY, the built-in emulator plays Stripe",
      (config.demoRequested ? "unset DEMO and set" : "set") +
        " STRIPE_SECRET_KEY (sk_live_…, sk_test_… or a restricted rk_…) to run against Stripe",
    ));
  }
  if (config.auditSigningKey) out.push(ok("signing key", "AUDIT_SIGNING_KEY is set"));
  else if (config.demo && storedSigningKey) {
    out.push(ok("signing key", "demo: generated and kept in KV"));
  } else if (!config.demo) {
    out.push(fail(
      "signing key",
      "AUDIT_SIGNING_KEY is not set: the server, CLI and backfill refuse to start",
      "set AUDIT_SIGNING_KEY to a random secret of at least 32 characters " +
        "(e.g. `openssl rand -base64 48`) and keep it: it seals TOTP secrets and signs checkpoints",
    ));
  }
  const secrets = config.stripe.webhookSecrets;
  if (!secrets) {
    if (!config.demo) {
      out.push(fail(
        "webhook secret",
        "STRIPE_WEBHOOK_SECRETS is not set: every webhook delivery will be refused",
        "copy the endpoint's signing secret (whsec_…) from Stripe into STRIPE_WEBHOOK_SECRETS",
      ));
    }
  } else {
    // an entry that is no signing secret (cut off, a stray character) stops the configuration
    // from parsing, as at start-up, in the same words (core/webhook_secret.ts)
    out.push(ok("webhook secret", `${secrets.length} signing secret(s) in the expected format`));
  }
  // /metrics does not tell a caller whether METRICS_TOKEN is set (README, Metrics); this does
  out.push(ok(
    "metrics",
    config.metricsToken
      ? "METRICS_TOKEN is set: a scraper reads /metrics with it"
      : "METRICS_TOKEN is not set: only an admin's API token reads /metrics",
  ));
  return out;
}

/** Opens the store and reads its layout stamp; null when it cannot be reached (the finding says why). */
export async function checkKv(
  config: Config,
  openKv: (path: string | undefined) => Promise<Deno.Kv>,
  timeoutMs: number,
): Promise<{ findings: Finding[]; kv: Deno.Kv | null }> {
  const where = config.kvPath ?? "the platform KV (Deno Deploy)";
  let kv: Deno.Kv | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    kv = await Promise.race([openKv(config.kvPath), timeout]);
    const store = kv;
    const [stored, contents] = await Promise.race([
      Promise.all([readStoreRuntime(store), storeContents(store)]),
      timeout,
    ]);
    const findings = [ok("kv", `reachable at ${where}`)];
    findings.push(await checkKvWrite(config, store, timeout));
    const runtime = checkRuntime(config, stored.value, contents);
    findings.push(runtime.finding);
    if (config.kvRuntimeTakeover && isKvConnectUrl(config.kvPath)) {
      findings.push(warn(
        "kv runtime takeover",
        "KV_RUNTIME_TAKEOVER=1 is set: the server's start takes this store over from an older " +
          "Deno's server (a deployment), which then cannot read it",
        "unset KV_RUNTIME_TAKEOVER once the server on the new Deno has started: it is for that " +
          "one start",
      ));
    }
    if (runtime.unreadable) {
      // every other reading of this store would fail the same way
      kv.close();
      return { findings, kv: null };
    }
    const [stamp, empty] = await Promise.race([
      Promise.all([kv.get<number>(keys.storeLayout()), isEmpty(kv)]),
      timeout,
    ]);
    if (stamp.value === STORE_LAYOUT) findings.push(ok("kv layout", `layout ${STORE_LAYOUT}`));
    else if (stamp.value === null && empty) {
      findings.push(ok("kv layout", "an empty store: the first start stamps it"));
    } else {
      findings.push(fail(
        "kv layout",
        `the store has layout ${stamp.value ?? 1}; this version needs ${STORE_LAYOUT}`,
        "start with an empty KV_PATH and run `deno task backfill` to rebuild from Stripe",
      ));
    }
    return { findings, kv };
  } catch (error) {
    kv?.close();
    const { detail, fix } = describeKvOpenFailure(config.kvPath, error);
    return { findings: [fail("kv", detail, fix)], kv: null };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * That the store takes a write, as the server's start needs (README, Doctor): a store it can
 * only read answers every read and fails the start. The probe commits nothing; it waits out
 * another process's write lock as the server does (kv/open.ts).
 */
async function checkKvWrite(
  config: Config,
  kv: Deno.Kv,
  timeout: Promise<never>,
): Promise<Finding> {
  try {
    await Promise.race([probeStoreWrite(retryLockedCommits(kv), config.kvPath), timeout]);
    return ok("kv write", "takes writes (a probe commit that changes nothing)");
  } catch (error) {
    if (isReadOnlyStore(error)) {
      const { detail, fix } = describeReadOnlyStore(config.kvPath);
      return fail("kv write", `${detail}; the server's start fails on it`, fix);
    }
    if (isKvLocked(error)) {
      const detail = "another process held the write lock throughout: not told whether it " +
        "takes writes";
      return warn("kv write", detail, "run the doctor again");
    }
    throw error;
  }
}

/**
 * This Deno against the one the store's stamp names (kv/runtime_stamp.ts): a
 * Deno that cannot read the store's values, or whose values the serving Deno
 * cannot read (the CLI run with it is refused), fails.
 */
function checkRuntime(
  config: Config,
  stored: StoreRuntime | null,
  contents: "empty" | "data" | "unreadable",
): { finding: Finding; unreadable: boolean } {
  const mine = currentRuntime();
  const remote = isKvConnectUrl(config.kvPath);
  const verdict = judgeRuntime(stored, mine, contents, { role: "doctor", remote, task: "doctor" });
  if (!verdict.ok) {
    // a KV Connect store whose server has not started on it since this stamp came in: the CLI
    // waits for that start, the doctor only says so
    const finding = stored === null && !verdict.unreadable
      ? warn("kv runtime", verdict.message, verdict.fix)
      : fail("kv runtime", verdict.message, verdict.fix);
    return { finding, unreadable: verdict.unreadable };
  }
  const serializer = mine.serializer === null ? "" : `, V8 serializer ${mine.serializer}`;
  const finding = stored
    ? ok("kv runtime", `served by Deno ${stored.deno}; this Deno ${mine.deno}${serializer} matches`)
    : ok(
      "kv runtime",
      `no Deno recorded yet (the server's start records its own); this is Deno ${mine.deno}` +
        serializer,
    );
  return { finding, unreadable: false };
}

/**
 * Every cron (`schedules`: name to schedule, as main.ts registers them) has a
 * name Deno Deploy accepts; its last run (if any) went well and is recent.
 */
export async function checkCrons(
  kv: Deno.Kv | null,
  now: number,
  schedules: Record<string, string>,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const names = Object.keys(schedules);
  const bad = names.filter((n) => !/^[A-Za-z0-9_-]{1,64}$/.test(n));
  out.push(
    bad.length
      ? fail("crons", `cron names Deno Deploy refuses: ${bad.join(", ")}`, "rename them in code")
      : ok("crons", `${names.length} registered: ${names.join(", ")}`),
  );
  if (!kv) return out;
  const runs = new Map<string, CronRun>((await lastCronRuns(kv)).map((r) => [r.task, r]));
  const good = new Map(
    (await lastCronRunsByOutcome(kv)).filter((r) => r.ok).map((r) => [r.task, r.finished_at]),
  );
  const recent: string[] = [];
  const notYet: string[] = [];
  for (const [task, schedule] of Object.entries(schedules)) {
    const run = runs.get(task);
    if (!run) {
      notYet.push(`${task} (${schedule})`);
      continue;
    }
    const ago = Math.round((now - run.finished_at) / 1000);
    if (!run.ok) {
      out.push(fail(
        `cron ${task}`,
        `last run ${ago} s ago failed: ${run.error}; ` +
          (good.has(task)
            ? `it last worked ${agoText(Math.round((now - good.get(task)!) / 1000))}`
            : "no good run is recorded in this store"),
        "read the server log around that time (msg `cron task failed`); the task retries on schedule",
      ));
    } else if (ago > 3 * intervalS(schedule)) {
      out.push(warn(
        `cron ${task}`,
        `last ran ${ago} s ago; its schedule is ${schedule}`,
        "is the server (or the Deno Deploy project) running? Crons run only while it is deployed",
      ));
    } else recent.push(`${task} ${agoText(ago)}`);
  }
  if (runs.size === 0) {
    out.push(warn(
      "cron runs",
      "no cron run recorded in this store yet",
      "normal right after the first start; otherwise check that the server runs",
    ));
  } else {
    const waiting = notYet.length ? `; not run yet: ${notYet.join(", ")}` : "";
    out.push(ok("cron runs", `last ran well: ${recent.join(", ") || "none"}${waiting}`));
  }
  return out;
}

function agoText(s: number): string {
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/**
 * The longest wait between two firings of a cron schedule, in seconds (for "has it run lately";
 * a day for one that cannot be read).
 */
function intervalS(schedule: string): number {
  return cronIntervalS(schedule) ?? 86400;
}

export { type CronRun, HANDLED_EVENT_TYPES };
