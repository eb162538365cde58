/**
 * FRAUD_SWEEP_SCHEDULE (README, Configuration): the config takes a schedule
 * exactly when `Deno.cron` does (asked in a child process on the Deno running
 * the tests), refuses one that never fires (Deno's scheduler stops the process
 * on it), names the field and its range, and the doctor fails on it.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigError, parseConfig } from "../config.ts";
import { runDoctor } from "../cli/doctor.ts";
import { cronIntervalS } from "../core/cron_schedule.ts";
import { spawnCollected } from "./helpers/child_process.ts";

function configTakes(schedule: string): boolean {
  try {
    return parseConfig({ FRAUD_SWEEP_SCHEDULE: schedule }).fraudSweepSchedule === schedule;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
}

/**
 * Deno.cron's verdict on each, or null when a child did not live to give it
 * (a process holds at most 100 crons: 90 schedules a child).
 */
async function denoTakes(schedules: string[]): Promise<Record<string, boolean> | null> {
  const unique = [...new Set(schedules)];
  const verdicts: Record<string, boolean> = {};
  for (let i = 0; i < unique.length; i += 90) {
    const probe = spawnCollected(Deno.execPath(), [
      "run",
      "--unstable-cron",
      "tests/helpers/cron_probe.ts",
      JSON.stringify(unique.slice(i, i + 90)),
    ], {});
    if (await probe.exited() !== 0) return null;
    Object.assign(verdicts, JSON.parse(probe.stdout()));
  }
  return verdicts;
}

const TAKEN = [
  "*/5 * * * *",
  "0 */2 * * *",
  "59 23 31 12 7",
  "00 00 01 01 *",
  "05 05 05 05 05",
  "1-5 * * * *",
  "1-5/2 * * * *",
  "5/10 * * * *",
  "59/59 * * * *",
  "*/59 * * * *",
  "0-59/59 * * * *",
  "0 */23 * * *",
  "1,2-4,*/5 * * * *",
  "1,1 * * * *",
  "59-0 * * * *",
  "0 23-0 * * *",
  "0 0 L * *",
  "0 0 LW * *",
  "0 0 L-30 * *",
  "0 0 L-3W * *",
  "0 0 15W * *",
  "0 0 31W * *",
  "0 0 31-1 * *",
  "0 0 31/30 * *",
  "0 0 * JAN *",
  "0 0 * jAN-mAR/2 *",
  "0 0 * NOV-FEB *",
  "0 0 * */11 *",
  "0 0 * 12/11 *",
  "0 0 * * MON",
  "0 0 * * mon-fri",
  "0 0 * * SUN,MON",
  "0 0 * * SAT-SUN",
  "0 0 * * 1-7",
  "0 0 * * 2-1",
  "0 0 * * */2",
  "0 0 * * 7/6",
  "0 0 * * L",
  "0 0 * * 5L",
  "0 0 * * SUNL",
  "0 0 * * 1#5",
  "0 0 * * SAT#5",
  "0 0 * * 1#05",
  "0\t0 * * *",
  "0  0  *  *  *",
  // the day fields: either may match, so these fire
  "0 0 29 2 *",
  "0 0 L-28 2 *",
  "0 0 29W 2 *",
  "0 0 31 2 MON",
  "0 0 31 2 1-7",
  "0 0 31 4,5 *",
  "0 0 31 12-1 *",
  "0 0 29-31 2 *",
];

const REFUSED = [
  "99 * * * *",
  "60 * * * *",
  "*/60 * * * *",
  "0-59/60 * * * *",
  "*/0 * * * *",
  "5/0 * * * *",
  "-1 * * * *",
  "+1 * * * *",
  "1.5 * * * *",
  "1,,2 * * * *",
  "1-2-3 * * * *",
  "*/5/2 * * * *",
  "*-5 * * * *",
  "0 24 * * *",
  "0 */24 * * *",
  "0 0 0 * *",
  "0 0 32 * *",
  "0 0 */31 * *",
  "0 0 1/31 * *",
  "0 0 ? * *",
  "0 0 L-31 * *",
  "0 0 L-0 * *",
  "0 0 0W * *",
  "0 0 15W,L * *",
  "0 0 l * *",
  "0 0 * 0 *",
  "0 0 * 13 *",
  "0 0 * */12 *",
  "0 0 * JANUARY *",
  "0 0 * L *",
  "0 0 * * 0",
  "0 0 * * 8",
  "0 0 * * 0-6",
  "0 0 * * */7",
  "0 0 * * ?",
  "0 0 * * MONDAY",
  "0 0 * * 1#6",
  "0 0 * * 1#0",
  "0 0 * * 0L",
  "0 0 * * 5l",
  "0 0 * * 1-5,L",
  "0 0 * * L-1",
  "* * * * * *",
  "* * * *",
  "@daily",
  "0\n0 * * *",
];

/**
 * One of Deno 2.5.6 and 2.9.6 refuses these (three-digit numbers: 2.9; a list
 * starting with a bare `*`: 2.5; 30W in February: 2.9 stops on it), so the config does.
 */
const VERSION_SPLIT = [
  "000 * * * *",
  "059 * * * *",
  "*/001 * * * *",
  "*,5 * * * *",
  "0 0 *,01 * *",
];

/** What one of the two Deno versions refuses though the running one may take it. */
function versionSplit(schedule: string): boolean {
  return schedule.split(/[ \t]+/).some((f) => /\d{3}/.test(f) || f.startsWith("*,"));
}

/** Deno takes these, then its scheduler cannot place them and stops the process. */
const NEVER_FIRES = ["0 0 31 2 *", "0 0 30,31 2 *", "0 0 31 9,11 *", "0 0 L-29 2 *"];

Deno.test("FRAUD_SWEEP_SCHEDULE: the config takes a schedule exactly when Deno.cron does", async () => {
  const deno = await denoTakes([...TAKEN, ...REFUSED]);
  assert.ok(deno, "Deno stopped on a schedule of the table");
  for (const schedule of VERSION_SPLIT) {
    assert.equal(configTakes(schedule), false, `"${schedule}" is refused`);
  }
  for (const schedule of [...TAKEN, ...REFUSED]) {
    assert.equal(configTakes(schedule), deno[schedule], `config and Deno.cron on "${schedule}"`);
    assert.equal(deno[schedule], TAKEN.includes(schedule), `the table is right on "${schedule}"`);
  }
});

Deno.test("FRAUD_SWEEP_SCHEDULE: a schedule that never fires is refused; Deno would stop on it", async () => {
  for (const schedule of NEVER_FIRES) {
    assert.throws(
      () => parseConfig({ FRAUD_SWEEP_SCHEDULE: schedule }),
      /FRAUD_SWEEP_SCHEDULE.*day-of-month .* never falls in month/,
    );
    const deno = await denoTakes([schedule]);
    assert.ok(deno === null || deno[schedule] === false, `Deno.cron runs "${schedule}"`);
  }
  // Deno 2.9.6 stops on this one, 2.5.6 runs it (the 29th, in leap years)
  assert.throws(() => parseConfig({ FRAUD_SWEEP_SCHEDULE: "0 0 30W 2 *" }), /never falls/);
});

Deno.test("FRAUD_SWEEP_SCHEDULE: random schedules get the same verdict from the config as from Deno.cron", async () => {
  const n = fc.constantFrom(
    ...["0", "1", "2", "3", "5", "6", "7", "8", "11", "12", "13", "23", "24", "28", "29", "30"],
    ...["31", "32", "59", "60", "00", "01", "000", "MON", "sun", "SAT", "JAN", "feb", "dec", "X"],
  );
  const item = fc.oneof(
    fc.constant("*"),
    n,
    fc.tuple(n, n).map(([a, b]) => `${a}-${b}`),
    fc.tuple(n, n).map(([a, s]) => `${a}/${s}`),
    fc.tuple(n, n, n).map(([a, b, s]) => `${a}-${b}/${s}`),
    n.map((s) => `*/${s}`),
    fc.constantFrom("L", "LW", "?", "W", "#", "-", ""),
    n.map((a) => `L-${a}`),
    n.map((a) => `${a}W`),
    n.map((a) => `${a}L`),
    fc.tuple(n, n).map(([a, k]) => `${a}#${k}`),
  );
  const field = fc.oneof(
    { arbitrary: fc.constant("*"), weight: 5 },
    {
      arbitrary: fc.array(item, { minLength: 1, maxLength: 3 }).map((t) => t.join(",")),
      weight: 3,
    },
  );
  const schedules = fc.sample(
    fc.tuple(field, field, field, field, field).map((f) => f.join(" ")),
    { numRuns: 600, seed: 20261207 },
  ).filter((s) => !/never falls/.test(problemOf(s)));
  const deno = await denoTakes(schedules);
  assert.ok(deno, "Deno stopped on a schedule the config takes");
  const disagree = schedules.filter((s) =>
    configTakes(s) !== deno[s] && !(deno[s] && versionSplit(s))
  );
  assert.deepEqual(disagree.map((s) => [s, deno[s], problemOf(s)]), []);
  assert.ok(schedules.filter(configTakes).length >= 50, "some are taken");
});

function problemOf(schedule: string): string {
  try {
    parseConfig({ FRAUD_SWEEP_SCHEDULE: schedule });
    return "";
  } catch (error) {
    return (error as Error).message;
  }
}

Deno.test("FRAUD_SWEEP_SCHEDULE: the message names the variable, the field and its range", () => {
  const cases: [string, RegExp][] = [
    ["99 * * * *", /FRAUD_SWEEP_SCHEDULE.*minute value "99" is out of range \(0-59\)/],
    ["0 24 * * *", /FRAUD_SWEEP_SCHEDULE.*hour value "24" is out of range \(0-23\)/],
    ["0 0 32 * *", /day-of-month value "32" is out of range \(1-31\)/],
    ["0 0 * 13 *", /month value "13" is out of range \(1-12 or JAN-DEC\)/],
    ["0 0 * * 0", /day-of-week value "0" is out of range \(1-7 or SUN-SAT\)/],
    ["*/60 * * * *", /minute step "60" must be a whole number from 1 to 59/],
    ["0 0 * *", /FRAUD_SWEEP_SCHEDULE must be five fields/],
  ];
  for (const [schedule, message] of cases) {
    assert.throws(() => parseConfig({ FRAUD_SWEEP_SCHEDULE: schedule }), message);
  }
  // spaces around the value are not part of it
  assert.equal(
    parseConfig({ FRAUD_SWEEP_SCHEDULE: " 0 */2 * * * " }).fraudSweepSchedule,
    "0 */2 * * *",
  );
});

Deno.test("the doctor fails on a FRAUD_SWEEP_SCHEDULE Deno.cron would refuse, naming it", async () => {
  for (const schedule of ["99 * * * *", "0 0 31 2 *"]) {
    const findings = await runDoctor({
      env: { KV_PATH: ":memory:", FRAUD_SWEEP_SCHEDULE: schedule },
    });
    const config = findings.find((f) => f.check === "configuration");
    assert.equal(config?.severity, "fail", JSON.stringify(findings));
    assert.match(config!.detail, /FRAUD_SWEEP_SCHEDULE/);
  }
});

Deno.test("cronIntervalS: the longest wait between two firings, for the doctor's staleness", () => {
  const cases: [string, number][] = [
    ["0 3 * * 2", 7 * 86400], // weekly
    ["0 3 * * TUE,FRI", 4 * 86400],
    ["0 3 * * *", 86400], // daily
    ["17 3,15 * * *", 12 * 3600],
    ["0 3,4 * * *", 23 * 3600],
    ["0 * * * *", 3600], // hourly
    ["0 */2 * * *", 7200],
    ["* * * * *", 60],
    ["*/5 * * * *", 300], // every N minutes
    ["*/7 * * * *", 420], // 49 -> 56 is the longest; 56 -> 0 is 4 min
    ["0 0 1 * *", 31 * 86400], // monthly: from January 1st to February 1st
    ["0 0 1 1 *", 366 * 86400], // yearly, across a leap year
    ["0 9 * * 2#1", 35 * 86400], // the first Tuesday of a month
  ];
  for (const [schedule, seconds] of cases) {
    assert.equal(cronIntervalS(schedule), seconds, schedule);
  }
  assert.equal(cronIntervalS("61 * * * *"), null);
});
