/**
 * The crons main.ts registers: one table (`cronSchedules`) that the server and
 * the doctor share, the fraud sweep on its own schedule included, each run
 * timed and recorded the same way.
 */
import assert from "node:assert/strict";
import { cronSchedules, PERIODIC_TASKS, runPeriodicTask } from "../services/background.ts";
import { runDoctor } from "../cli/doctor.ts";
import { parseConfig } from "../config.ts";
import { recordCronRun } from "../kv/metrics_counts.ts";
import { claimWalkLease } from "../kv/fraud_admin.ts";
import { timedCronRun } from "../services/metrics.ts";
import { lastCronRuns } from "../kv/metrics_counts.ts";
import { withTestApp } from "./helpers/app.ts";

Deno.test("every cron has one schedule: the fixed ones and the sweep's FRAUD_SWEEP_SCHEDULE", () => {
  const config = parseConfig({ FRAUD_SWEEP_SCHEDULE: "0 */2 * * *" });
  const schedules = cronSchedules(config);
  assert.equal(schedules["fraud-sweep"], "0 */2 * * *");
  for (const [task, schedule] of Object.entries(PERIODIC_TASKS)) {
    assert.equal(schedules[task as keyof typeof schedules], schedule);
  }
  assert.equal(Object.keys(schedules).length, Object.keys(PERIODIC_TASKS).length + 1);
});

Deno.test("the doctor names every cron, the fraud sweep too, with the last runs and the stale or failed ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crons_test_" });
  const path = `${dir}/kv.sqlite3`;
  const now = Date.UTC(2026, 11, 6, 12, 0, 0);
  try {
    const kv = await Deno.openKv(path);
    const run = (task: string, agoS: number, error: string | null = null) =>
      recordCronRun(kv, {
        task,
        started_at: now - agoS * 1000 - 5,
        finished_at: now - agoS * 1000,
        ok: error === null,
        error,
      });
    await run("run-jobs", 20);
    await run("fraud-sweep", 200, "KV commit refused");
    await run("reconcile-refunds", 3600); // every 5 minutes: an hour is stale
    kv.close();

    const findings = await runDoctor({ env: { KV_PATH: path }, now });
    const by = (check: string) => findings.find((f) => f.check === check);
    assert.match(by("crons")!.detail, /^8 registered: .*fraud-sweep/);
    const sweep = by("cron fraud-sweep")!;
    assert.equal(sweep.severity, "fail");
    assert.match(sweep.detail, /last run 200 s ago failed: KV commit refused/);
    const stale = by("cron reconcile-refunds")!;
    assert.equal(stale.severity, "warn");
    assert.match(stale.detail, /last ran 3600 s ago; its schedule is \*\/5 \* \* \* \*/);
    const runs = by("cron runs")!;
    assert.equal(runs.severity, "ok");
    assert.match(
      runs.detail,
      /last ran well: run-jobs 20 s ago; not run yet: .*webhook-retention \(17 3 \* \* \*\)/,
    );
    assert.doesNotMatch(runs.detail, /fraud-sweep|reconcile-refunds/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed cron's finding says when it last worked, or that no good run is recorded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crons_test_" });
  const path = `${dir}/kv.sqlite3`;
  const now = Date.UTC(2026, 11, 6, 12, 0, 0);
  try {
    const kv = await Deno.openKv(path);
    const run = (task: string, agoS: number, error: string | null = null) =>
      recordCronRun(kv, {
        task,
        started_at: now - agoS * 1000 - 5,
        finished_at: now - agoS * 1000,
        ok: error === null,
        error,
      });
    await run("fraud-sweep", 900);
    await run("fraud-sweep", 200, "KV commit refused");
    await run("audit-checkpoint", 60, "signing key missing");
    kv.close();

    const findings = await runDoctor({ env: { KV_PATH: path }, now });
    const by = (check: string) => findings.find((f) => f.check === check)!;
    assert.match(
      by("cron fraud-sweep").detail,
      /failed: KV commit refused; it last worked 15 min ago/,
    );
    assert.match(
      by("cron audit-checkpoint").detail,
      /failed: signing key missing; no good run is recorded in this store/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the fraud-sweep cron is timed and recorded; a sweep already running makes it a quiet skip, not a failure", async () => {
  await withTestApp(async (t) => {
    const sweep = () =>
      timedCronRun(t.deps, "fraud-sweep", () => runPeriodicTask(t.services, "fraud-sweep"));
    await sweep();
    let recorded = (await lastCronRuns(t.kv)).find((r) => r.task === "fraud-sweep");
    assert.equal(recorded?.ok, true);
    const runs = (await t.services.fraud.listSweeps({ limit: 10 })).data;
    assert.equal(runs.length, 1);
    assert.equal(runs[0].trigger, "cron");

    // an operator's sweep (POST /fraud/sweeps) holds the lease
    const held = await claimWalkLease(t.kv, "sweep", {
      run: "fsw_operator",
      until: t.clock.now() + 60_000,
    }, t.clock.now());
    assert.equal(held, null);
    await sweep();
    recorded = (await lastCronRuns(t.kv)).find((r) => r.task === "fraud-sweep");
    assert.equal(recorded?.ok, true, recorded?.error ?? "");
    assert.ok(t.logs.some((l) => l.includes("fraud sweep cron skipped: a sweep is running")));
    assert.equal(
      (await t.services.fraud.listSweeps({ limit: 10 })).data.length,
      1,
      "no second run started",
    );
  });
});

Deno.test("a weekly FRAUD_SWEEP_SCHEDULE is stale after three weeks, not after four days", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crons_test_" });
  const path = `${dir}/kv.sqlite3`;
  const now = Date.UTC(2026, 11, 6, 12, 0, 0);
  try {
    const env = { KV_PATH: path, FRAUD_SWEEP_SCHEDULE: "0 3 * * 2" };
    const sweepAgo = async (agoS: number) => {
      const kv = await Deno.openKv(path);
      await recordCronRun(kv, {
        task: "fraud-sweep",
        started_at: now - agoS * 1000 - 5,
        finished_at: now - agoS * 1000,
        ok: true,
        error: null,
      });
      kv.close();
      return (await runDoctor({ env, now })).find((f) => f.check === "cron fraud-sweep");
    };
    assert.equal(await sweepAgo(4 * 86400 + 345), undefined, "four days: not stale");
    assert.equal(await sweepAgo(20 * 86400), undefined, "twenty days: not stale");
    const stale = await sweepAgo(22 * 86400);
    assert.equal(stale?.severity, "warn");
    assert.match(stale!.detail, /its schedule is 0 3 \* \* 2/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
