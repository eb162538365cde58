/**
 * Checks a cron schedule the way `Deno.cron` reads it (README, Configuration:
 * `FRAUD_SWEEP_SCHEDULE`), so a schedule Deno would refuse, or one that never
 * fires (Deno's local scheduler stops the process on it), stops start-up with
 * a message naming the field and its range instead of a stack trace.
 *
 * Five fields, separated by spaces or tabs: minute 0-59, hour 0-23,
 * day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT
 * (Deno.cron counts 1 = Sunday … 7 = Saturday; 0 is refused). Each field is a
 * list `a,b` of `*`, `n`, `a-b` (a range may wrap: `22-2`), each with an
 * optional step `/s` (1 to the field's span). Alone in their field:
 * day-of-month `L`, `L-n`, `LW`, `nW`, `L-nW`; day-of-week `L`, `nL`, `n#k`
 * (k 1-5). `?`, `@daily`, a list starting with a bare `*` and numbers of more
 * than two digits are refused (one of Deno 2.5 and 2.9 refuses them).
 */

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: readonly Field[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day-of-week", min: 1, max: 7, names: DAYS },
];

/** The longest month of each month (February: 29, a leap year's). */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const NUMBER = /^\d{1,2}$/;

function rangeText(f: Field): string {
  const names = f.names ? ` or ${f.names[0]}-${f.names[f.names.length - 1]}` : "";
  return `${f.min}-${f.max}${names}`;
}

class Refusal extends Error {}

/** A value of the field: a number in range, or one of its names (any case). */
function value(f: Field, token: string): number {
  if (NUMBER.test(token)) {
    const n = Number(token);
    if (n >= f.min && n <= f.max) return n;
    throw new Refusal(`${f.name} value "${token}" is out of range (${rangeText(f)})`);
  }
  const i = f.names?.indexOf(token.toUpperCase()) ?? -1;
  if (i >= 0) return f.min + i;
  throw new Refusal(`${f.name} value "${token}" is not a number in ${rangeText(f)}`);
}

function step(f: Field, token: string): number {
  const span = f.max - f.min;
  if (NUMBER.test(token) && Number(token) >= 1 && Number(token) <= span) return Number(token);
  throw new Refusal(`${f.name} step "${token}" must be a whole number from 1 to ${span}`);
}

/** The values a list item names (a range may wrap past the field's end). */
function item(f: Field, text: string): number[] {
  const [base, stepText, extra] = text.split("/");
  if (extra !== undefined) throw new Refusal(`${f.name} "${text}" has more than one step`);
  const by = stepText === undefined ? 1 : step(f, stepText);
  let from: number, to: number;
  if (base === "*") [from, to] = [f.min, f.max];
  else {
    const [a, b, more] = base.split("-");
    if (more !== undefined) throw new Refusal(`${f.name} range "${base}" is not of the form a-b`);
    from = value(f, a);
    to = b === undefined ? (stepText === undefined ? from : f.max) : value(f, b);
  }
  const size = f.max - f.min + 1;
  const count = ((to - from + size) % size) + 1;
  const out: number[] = [];
  for (let i = 0; i < count; i += by) out.push(f.min + ((from - f.min + i) % size));
  return out;
}

/** What day-of-month allows, for the "never fires" check: a set, or the `L` forms. */
type DaySpec = { days: number[] } | { fromEnd: number } | { any: true };

function dayOfMonth(f: Field, text: string): DaySpec | null {
  if (text === "L" || text === "LW") return { any: true };
  let m = /^L-(\d{1,2})W?$/.exec(text);
  if (m) {
    const n = Number(m[1]);
    if (n < 1 || n > 30) throw new Refusal(`${f.name} "${text}": L-n takes n from 1 to 30`);
    return { fromEnd: n };
  }
  m = /^(\d{1,2})W$/.exec(text);
  if (m) return { days: [value(f, m[1])] };
  return null;
}

function dayOfWeek(f: Field, text: string): boolean {
  if (text === "L") return true;
  let m = /^([A-Za-z]{3}|\d{1,2})L$/.exec(text);
  if (m) return value(f, m[1]) > 0;
  m = /^([A-Za-z]{3}|\d{1,2})#(\d{1,2})$/.exec(text);
  if (!m) return false;
  value(f, m[1]);
  const k = Number(m[2]);
  if (k < 1 || k > 5) throw new Refusal(`${f.name} "${text}": n#k takes k from 1 to 5`);
  return true;
}

function list(f: Field, text: string): number[] {
  if (/[^0-9A-Za-z*,\-/]/.test(text)) {
    throw new Refusal(`${f.name} "${text}" is not a list of values, ranges and steps`);
  }
  const parts = text.split(",");
  if (parts.length > 1 && parts[0] === "*") {
    throw new Refusal(`${f.name} "${text}": a list may not start with * (Deno 2.5 refuses it)`);
  }
  const values: number[] = [];
  for (const part of parts) {
    if (part === "") throw new Refusal(`${f.name} "${text}" has an empty list entry`);
    values.push(...item(f, part));
  }
  return values;
}

/**
 * Why `schedule` is refused (naming the field and its valid range), or null
 * when Deno.cron takes it and it fires at least once a year (some in leap years only).
 */
export function cronScheduleProblem(schedule: string): string | null {
  const parts = schedule.split(/[ \t]+/);
  if (parts.length !== 5 || parts.some((p) => p === "")) {
    return "must be five fields (minute hour day-of-month month day-of-week) such as */5 * * * *";
  }
  try {
    const [minute, hour, dom, month, dow] = FIELDS;
    list(minute, parts[0]);
    list(hour, parts[1]);
    const days: DaySpec = dayOfMonth(dom, parts[2]) ??
      (parts[2] === "*" ? { any: true } : { days: list(dom, parts[2]) });
    const months = list(month, parts[3]);
    if (!dayOfWeek(dow, parts[4])) list(dow, parts[4]);
    if (parts[4] !== "*" || "any" in days) return null; // either day field may match (Deno.cron)
    const longest = Math.max(...months.map((m) => MONTH_DAYS[m - 1]));
    const fires = "fromEnd" in days
      ? longest - days.fromEnd >= 1
      : days.days.some((d) => d <= longest);
    if (!fires) {
      const where = `day-of-month "${parts[2]}" never falls in month "${parts[3]}"`;
      return `${where} (a schedule that never fires stops Deno's scheduler)`;
    }
    return null;
  } catch (error) {
    if (error instanceof Refusal) return `${error.message}; fields are ${fieldRanges()}`;
    throw error;
  }
}

function fieldRanges(): string {
  return FIELDS.map((f) => `${f.name} ${rangeText(f)}`).join(", ");
}

/** Which days a schedule's day fields allow (UTC, as Deno.cron reads them). */
function dayMatcher(domText: string, dowText: string): (date: Date) => boolean {
  const [, , dom, , dow] = FIELDS;
  const daysIn = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0));
  const weekday = (d: Date) => d.getUTCDay() + 1; // 1 = Sunday … 7 = Saturday
  const domOk = (() => {
    if (domText === "*") return null;
    // the weekday forms (`W`) are taken as the day they start from: a gap differs by 2 days at most
    if (domText === "L" || domText === "LW") {
      return (d: Date) => d.getUTCDate() === daysIn(d).getUTCDate();
    }
    const fromEnd = /^L-(\d{1,2})W?$/.exec(domText);
    if (fromEnd) {
      return (d: Date) => d.getUTCDate() === daysIn(d).getUTCDate() - Number(fromEnd[1]);
    }
    const near = /^(\d{1,2})W$/.exec(domText);
    const days = new Set(near ? [Number(near[1])] : list(dom, domText));
    return (d: Date) => days.has(d.getUTCDate());
  })();
  const dowOk = (() => {
    if (dowText === "*") return null;
    if (dowText === "L") return (d: Date) => weekday(d) === 7;
    const last = /^([A-Za-z]{3}|\d{1,2})L$/.exec(dowText);
    if (last) {
      const n = value(dow, last[1]);
      return (d: Date) => weekday(d) === n && d.getUTCDate() + 7 > daysIn(d).getUTCDate();
    }
    const nth = /^([A-Za-z]{3}|\d{1,2})#(\d{1,2})$/.exec(dowText);
    if (nth) {
      const n = value(dow, nth[1]);
      const k = Number(nth[2]);
      return (d: Date) => weekday(d) === n && Math.ceil(d.getUTCDate() / 7) === k;
    }
    const days = new Set(list(dow, dowText));
    return (d: Date) => days.has(weekday(d));
  })();
  if (domOk && dowOk) return (d) => domOk(d) || dowOk(d); // either may match (Deno.cron)
  return domOk ?? dowOk ?? (() => true);
}

/** Days looked through for a schedule's firings: eight years hold two February 29ths. */
const HORIZON_DAYS = 8 * 366;

/**
 * The longest time between two consecutive firings of `schedule`, in seconds: 300 for
 * `*\/5 * * * *`, 86 400 for `0 3 * * *`, 604 800 for `0 3 * * 2` (what "has it run lately"
 * measures against, README "Doctor"). Null for a schedule `cronScheduleProblem` refuses.
 */
export function cronIntervalS(schedule: string): number | null {
  if (cronScheduleProblem(schedule) !== null) return null;
  const parts = schedule.split(/[ \t]+/);
  const [minute, hour, , month] = FIELDS;
  const minutes = [...new Set(list(minute, parts[0]))].sort((a, b) => a - b);
  const hours = [...new Set(list(hour, parts[1]))].sort((a, b) => a - b);
  const times = hours.flatMap((h) => minutes.map((m) => h * 60 + m)); // minutes into a day
  let longest = 0; // minutes
  for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1]);
  const months = new Set(list(month, parts[3]));
  const dayOk = dayMatcher(parts[2], parts[4]);
  const start = Date.UTC(2024, 0, 1);
  let previous: number | null = null; // the day index of the last day that fires
  for (let day = 0; day < HORIZON_DAYS; day++) {
    const date = new Date(start + day * 86_400_000);
    if (!months.has(date.getUTCMonth() + 1) || !dayOk(date)) continue;
    if (previous !== null) {
      const gap = (day - previous) * 1440 + times[0] - times[times.length - 1];
      longest = Math.max(longest, gap);
    }
    previous = day;
  }
  return longest * 60;
}
