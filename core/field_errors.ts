/**
 * zod's issues in words a caller can act on: zod 4's default messages
 * ("Invalid input: expected string, received undefined") become "note is
 * required", "limit must be at most 100", "reason must be one of …". A schema's
 * own message (one that names the fix) is kept as written. A field a strict
 * body does not know is named (`body.Amount`), with the closest known one.
 */
import type { FieldError } from "./errors.ts";
import {
  keyNameAt,
  knownFieldsAt,
  unknownFieldMessage,
  unknownKeyMessage,
} from "./unknown_fields.ts";

/** The parts of a zod 4 issue read here (structural, so any zod 4 issue fits). */
interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  values?: unknown[];
  format?: string;
  /** the pattern of a `regex` format issue */
  pattern?: string;
  prefix?: string;
  suffix?: string;
  includes?: string;
  divisor?: number | bigint;
  keys?: string[];
  /** a union's options, each with the issues it failed with */
  errors?: Issue[][];
  /** a discriminated union's discriminator values */
  options?: unknown[];
  /** what is wrong with a record's key */
  issues?: Issue[];
}

/** zod's own wording starts like this; a schema's custom message never does here. */
const ZOD_DEFAULT = /^(Invalid|Too (small|big)|Unrecognized key)/;

/** Singular and plural of what a size counts, by what is measured. */
const UNITS: Record<string, [string, string]> = {
  string: ["character", "characters"],
  array: ["item", "items"],
  set: ["item", "items"],
  file: ["byte", "bytes"],
};

/** What a format asks for, with an example where one helps. */
const FORMATS: Record<string, string> = {
  datetime: "an ISO 8601 date-time such as 2026-01-31T00:00:00Z",
  date: "an ISO 8601 date such as 2026-01-31",
  time: "an ISO 8601 time such as 13:45:00",
  email: "an email address such as ops@example.com",
  url: "a URL such as https://example.com/hook",
};

/** The sentence for one issue, naming the field; `field` is its last path segment. */
export function issueMessage(issue: Issue, field: string): string {
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  switch (issue.code) {
    case "invalid_type":
      return /received undefined/.test(issue.message)
        ? `${field} is required`
        : `${field} must be ${typeName(issue.expected ?? "value")}`;
    case "too_small":
      return sizeMessage(
        issue,
        field,
        issue.minimum,
        issue.inclusive === false ? "more than" : "at least",
      );
    case "too_big":
      return sizeMessage(
        issue,
        field,
        issue.maximum,
        issue.inclusive === false ? "less than" : "at most",
      );
    case "not_multiple_of":
      return `${field} must be a multiple of ${issue.divisor}`;
    case "invalid_value": {
      const values = issue.values ?? [];
      return values.length === 1
        ? `${field} must be ${JSON.stringify(values[0])}`
        : `${field} must be one of ${values.map(String).join(", ")}`;
    }
    case "invalid_format":
      return `${field} must ${formatWanted(issue)}`;
    case "invalid_union":
      return unionMessage(issue, field);
    case "invalid_key": {
      const inner = issue.issues?.[0];
      return inner ? issueMessage(inner, `the key ${field}`) : `${field} is not an accepted key`;
    }
    case "unrecognized_keys": // fieldErrors() gives each unknown field an error of its own
      return `${(issue.keys ?? []).join(", ")}: not known field(s)`;
    default:
      // a check without a message of its own (zod says only "Invalid input")
      return `${field} does not pass this route's checks; see the operation's schema in /docs`;
  }
}

function sizeMessage(issue: Issue, field: string, bound: unknown, how: string): string {
  const unit = UNITS[issue.origin ?? ""];
  if (!unit) return `${field} must be ${how} ${bound}`;
  if (issue.origin === "string" && how === "at least" && Number(bound) === 1) {
    return `${field} must not be empty`;
  }
  const verb = issue.origin === "string" ? "be" : "have";
  return `${field} must ${verb} ${how} ${bound} ${Number(bound) === 1 ? unit[0] : unit[1]}`;
}

/** "be an email address such as …", "start with "pi_"", "match the pattern /…/". */
function formatWanted(issue: Issue): string {
  const format = issue.format ?? "value";
  // a pattern says nothing to a caller in zod's words ("a valid regex"): show the pattern
  if (format === "regex" && issue.pattern) return `match the pattern ${issue.pattern}`;
  if (format === "starts_with") return `start with ${JSON.stringify(issue.prefix ?? "")}`;
  if (format === "ends_with") return `end with ${JSON.stringify(issue.suffix ?? "")}`;
  if (format === "includes") return `contain ${JSON.stringify(issue.includes ?? "")}`;
  return `be ${FORMATS[format] ?? `a valid ${format}`}`;
}

/**
 * A union none of whose options fit: the values a discriminator takes, or
 * each option's one expected type or value ("a string or a number").
 */
function unionMessage(issue: Issue, field: string): string {
  if (issue.options?.length) {
    return `${field} must be one of ${issue.options.map(String).join(", ")}`;
  }
  const wanted = (issue.errors ?? []).map((option) => {
    const [only] = option;
    if (option.length !== 1 || only.path.length > 0) return null;
    if (only.code === "invalid_type" && only.expected) return typeName(only.expected);
    if (only.code === "invalid_value" && only.values?.length === 1) {
      return JSON.stringify(only.values[0]);
    }
    return null;
  });
  if (wanted.length > 0 && wanted.every((w) => w !== null)) {
    return `${field} must be ${[...new Set(wanted)].join(" or ")}`;
  }
  return `${field} does not match any accepted form; see the operation's schema in /docs`;
}

function typeName(type: string): string {
  if (type === "int") return "a whole number";
  if (type === "null") return "null";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** The field an issue is about: its last path segment, `xs[0]` for an item of a list. */
function fieldName(path: PropertyKey[], where: string): string {
  if (path.length === 0) return where;
  const last = path.at(-1)!;
  if (typeof last !== "number") return String(last);
  return `${path.length > 1 ? String(path.at(-2)) : where}[${last}]`;
}

/**
 * One FieldError per issue, with the path as `body.amount` / `query.limit` / `header.x-otp-code`;
 * an unknown field of a strict object is one error per field (`body.Amount`), naming the closest
 * known field of `schema` (the route's own) when one is close.
 */
export function fieldErrors(
  where: string,
  issues: readonly Issue[],
  schema?: unknown,
): FieldError[] {
  const errors = issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys" && issue.keys?.length) {
      const known = schema === undefined ? null : knownFieldsAt(schema, issue.path);
      const keyName = schema === undefined ? null : keyNameAt(schema, issue.path);
      return issue.keys.map((key) => ({
        path: [where, ...issue.path.map(String), key].join("."),
        message: keyName && known
          ? unknownKeyMessage(key, known, keyName)
          : unknownFieldMessage(key, known),
      }));
    }
    const closest = closestOption(issue);
    if (closest) {
      return fieldErrors(where, closest.map((i) => ({ ...i, path: [...issue.path, ...i.path] })));
    }
    const path = [where, ...issue.path.map(String)];
    return [{ path: path.join("."), message: issueMessage(issue, fieldName(issue.path, where)) }];
  });
  // two checks may say the same of one field (a whole-number check and a maximum): once is enough
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\n${e.message}`;
    return !seen.has(key) && !!seen.add(key);
  });
}

/**
 * A union of shapes (objects) none of which fit: the issues of the option
 * that came closest (the fewest), so the caller is told which fields to fix
 * rather than that nothing matched. Null where a one-line message says it.
 */
function closestOption(issue: Issue): Issue[] | null {
  if (issue.code !== "invalid_union" || issue.options?.length || !issue.errors?.length) return null;
  if (issue.errors.every((o) => o.length === 1 && o[0].path.length === 0)) return null;
  return issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
}
