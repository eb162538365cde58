/**
 * Structured logs: JSON, one object a line (for machines), or `pretty`, one
 * short human line per event (for a terminal). Values pass through `mask` so
 * that secrets, tokens, full emails and card numbers never reach the output.
 * Each line also carries the fields of the unit of work it is written in (a
 * request's `request_id`, a job's `job_id`: core/log_context.ts).
 */
import { currentLogFields } from "./log_context.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = typeof LOG_FORMATS[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY_NAME = /(secret|token|password|authorization|otp|code_hash|api_key|signature)/i;
const STRIPE_KEY = /\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{4,}/g;
const WHSEC = /\bwhsec_[A-Za-z0-9+/=]{4,}/g;
const EMAIL = /\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b/g;
/**
 * Numbers as people type card numbers (PANs): groups of three or more digits, alone or split by
 * single spaces or dashes. `maskCards` masks those groups that make a card number.
 */
const CARD = /\b\d{3,}(?:[ -]\d{3,})*\b/g;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
/** this service's own credentials: API tokens, step-up tokens, enrollment codes */
const OWN_CREDENTIAL = /\b(pot|psu|enr)_[A-Za-z0-9_-]{8,}/g;

/**
 * Matches wherever any pattern above could (a superset: case-insensitive, and
 * a card number has four digits in a row or two groups of three), so a string it misses is returned as it
 * is without running six replacements: most log values (paths, ids, methods).
 */
const MAYBE_SECRET = /_|@|bearer|\d{4}|\d{3}[ -]\d{3}/i;

/**
 * Masks one string: Stripe keys, webhook secrets, bearer tokens, this service's
 * tokens and enrollment codes, emails, card numbers.
 */
export function maskString(s: string): string {
  if (!MAYBE_SECRET.test(s)) return s;
  return s
    .replace(STRIPE_KEY, (_m, p, env) => `${p}_${env}_****`)
    .replace(WHSEC, "whsec_****")
    .replace(BEARER, "$1 ****")
    .replace(OWN_CREDENTIAL, "$1_****")
    .replace(EMAIL, (_m, first, domain) => `${first}***@${domain}`)
    .replace(CARD, maskCards);
}

/**
 * In a run of digit groups (`CARD`'s match), the card numbers: the longest groups in a row with 13
 * to 19 digits (Amex 15, Diners 14, Visa 13 to 19) that pass the Luhn check become `****` and
 * their last four digits; the groups around them are searched the same way. Numbers of that
 * length that fail the check (order numbers, ids) are left alone.
 */
export function maskCards(run: string): string {
  const groups = [...run.matchAll(/\d+/g)];
  let best: { from: number; to: number; digits: string } | null = null;
  for (let i = 0; i < groups.length; i++) {
    let digits = "";
    for (let j = i; j < groups.length; j++) {
      digits += groups[j][0];
      if (digits.length > 19) break;
      if (
        digits.length >= 13 && (!best || digits.length > best.digits.length) && luhnValid(digits)
      ) {
        best = { from: groups[i].index, to: groups[j].index + groups[j][0].length, digits };
      }
    }
  }
  if (!best) return run;
  return maskCards(run.slice(0, best.from)) + `****${best.digits.slice(-4)}` +
    maskCards(run.slice(best.to));
}

/** The Luhn check every card number passes (its last digit is the check digit). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double && (d *= 2) > 9) d -= 9;
    sum += d;
  }
  return sum % 10 === 0;
}

/** What `verbatim` takes: digits, lowercase hex and `|` (`seq|hash|at|n`), nothing a person types. */
const VERBATIM = /^[0-9a-f|]*$/;

/**
 * A log value written as it is, not masked: one the service composes itself from its own
 * numbers, ms timestamps and hashes, never from text a person typed (card masking would take a
 * 13-digit ms time that passes the Luhn check for a card number: README, "Audit checkpoints").
 * Number fields are never masked; this is for such values joined into one string.
 */
export class Verbatim {
  constructor(readonly text: string) {
    if (!VERBATIM.test(text)) {
      throw new Error("verbatim takes only digits, lowercase hex and |: mask anything else");
    }
  }
  toJSON(): string {
    return this.text;
  }
}

export function verbatim(text: string): Verbatim {
  return new Verbatim(text);
}

/** Deep copy with secret-named fields replaced and every string masked (a `Verbatim` kept). */
export function mask(value: unknown, depth = 0): unknown {
  if (depth > 6) return "[deep]";
  if (typeof value === "string") return maskString(value);
  if (value instanceof Verbatim) return value.text;
  if (value instanceof Error) {
    return { name: value.name, message: maskString(value.message) };
  }
  if (Array.isArray(value)) return value.map((v) => mask(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY_NAME.test(k) && v !== undefined && v !== null
        ? "****"
        : mask(v, depth + 1);
    }
    return out;
  }
  return value;
}

/** `mask` of each of `fields` written into `out` (later fields replace earlier ones). */
function maskInto(out: LogFields, fields: LogFields): void {
  for (const k in fields) {
    if (!Object.hasOwn(fields, k)) continue;
    const v = fields[k];
    out[k] = SECRET_KEY_NAME.test(k) && v !== undefined && v !== null ? "****" : mask(v, 1);
  }
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => console.log(l),
  base: LogFields = {},
  format: LogFormat = "json",
): Logger {
  const render = format === "pretty" ? prettyLine : safeJson;
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const entry: LogFields = { time: new Date().toISOString(), level: lvl, msg: maskString(msg) };
    const context = currentLogFields();
    if (context) maskInto(entry, context);
    maskInto(entry, base);
    if (fields) maskInto(entry, fields);
    write(render(entry));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(level, write, { ...base, ...fields }, format),
  };
}

const PRETTY_LEVEL: Record<string, string> = {
  debug: "DBG",
  info: "INF",
  warn: "WRN",
  error: "ERR",
};

/**
 * Characters that must never reach a log raw (README, "Security"): C0 controls (ESC, newlines),
 * DEL, C1 controls (CSI, NEL), the line and paragraph separators, and the bidi embeddings,
 * overrides, isolates and marks. Raw, they would start a forged line, drive a terminal, or reorder
 * what is shown.
 */
const UNSAFE =
  // deno-lint-ignore no-control-regex -- finding them is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, "g");

/**
 * `JSON.stringify`, with what it leaves raw of `UNSAFE` (DEL, C1, the separators, bidi controls)
 * written as `\uXXXX` too: still the same JSON, read back as it was, on one line.
 */
function safeJson(v: unknown): string {
  return JSON.stringify(v)?.replace(
    UNSAFE_ALL,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** A string as it is when plain, else JSON-quoted and escaped (whitespace, `"`, `=`, controls). */
function prettyString(s: string): string {
  return s === "" || /[\s"=]/.test(s) || UNSAFE.test(s) ? safeJson(s) : s;
}

function prettyValue(v: unknown): string {
  if (typeof v === "string") return prettyString(v);
  if (v && typeof v === "object" && "message" in v && "name" in v) {
    return safeJson(`${(v as Error).name}: ${(v as Error).message}`);
  }
  // what JSON cannot write (a function, a symbol) as its text, escaped like any string
  return safeJson(v) ?? prettyString(String(v));
}

/**
 * One short line: `16:05:09 INF listening port=8000`. An access-log entry reads
 * like a request line (`GET /healthz 200 1.2ms`); the request id goes last,
 * so the eye finds method and status first. The message and every value with a
 * control character are written JSON-quoted and escaped (`"/healthz\n…"`), never raw.
 */
function prettyLine(entry: Record<string, unknown>): string {
  const { time, level, msg, request_id, ...rest } = entry;
  const head = `${String(time).slice(11, 19)} ${PRETTY_LEVEL[String(level)] ?? level}`;
  const message = String(msg);
  let text = UNSAFE.test(message) ? safeJson(message) : message;
  if (msg === "request" && "method" in rest && "path" in rest) {
    const { method, path, status, ms, ...more } = rest;
    text = [method, path, status].map(prettyValue).join(" ") + ` ${prettyValue(ms)}ms`;
    return [head, text, ...pairs({ ...more, request_id })].join(" ");
  }
  return [head, text, ...pairs({ ...rest, request_id })].join(" ");
}

function pairs(fields: Record<string, unknown>): string[] {
  return Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) =>
    `${UNSAFE.test(k) ? safeJson(k) : k}=${prettyValue(v)}`
  );
}

/** A logger that drops everything (tests), or collects lines when given an array. */
export function silentLogger(sink?: string[]): Logger {
  return createLogger("debug", (l) => sink?.push(l));
}
