/**
 * zod's issues in words a caller can act on: zod 4's default messages
 * ("Invalid input: expected string, received undefined") become "note is
 * required", "limit must be at most 100", "reason must be one of …". A schema's
 * own message (one that names the fix) is kept as written. A field a strict
 * body does not know is named (`body.Amount`), with the closest known one.
 */
import type { FieldError } from "../core/errors.ts";

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
  keys?: string[];
}

/** zod's own wording starts like this; a schema's custom message never does here. */
const ZOD_DEFAULT = /^(Invalid|Too (small|big)|Unrecognized key)/;

const UNITS: Record<string, string> = {
  string: " characters",
  array: " items",
  set: " items",
  file: " bytes",
};

/** The sentence for one issue, naming the field; `field` is its last path segment. */
export function issueMessage(issue: Issue, field: string): string {
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  const unit = UNITS[issue.origin ?? ""] ?? "";
  switch (issue.code) {
    case "invalid_type":
      return /received undefined/.test(issue.message)
        ? `${field} is required`
        : `${field} must be ${article(issue.expected ?? "value")}`;
    case "too_small":
      return `${field} must be at least ${issue.minimum}${unit}`;
    case "too_big":
      return `${field} must be at most ${issue.maximum}${unit}`;
    case "invalid_value":
      return `${field} must be one of ${(issue.values ?? []).map(String).join(", ")}`;
    case "invalid_format":
      // a pattern says nothing to a caller in zod's words ("a valid regex"): show the pattern
      return issue.format === "regex" && issue.pattern
        ? `${field} must match the pattern ${issue.pattern}`
        : `${field} must be a valid ${issue.format ?? "value"}`;
    case "unrecognized_keys": // fieldErrors() gives each unknown field an error of its own
      return `${(issue.keys ?? []).join(", ")}: not known field(s)`;
    default:
      return `${field} is invalid: ${issue.message}`;
  }
}

function article(type: string): string {
  if (type === "int") return "a whole number";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
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
      return issue.keys.map((key) => ({
        path: [where, ...issue.path.map(String), key].join("."),
        message: unknownFieldMessage(key, known),
      }));
    }
    const path = [where, ...issue.path.map(String)];
    const field = issue.path.length ? String(issue.path.at(-1)) : where;
    return [{ path: path.join("."), message: issueMessage(issue, field) }];
  });
  // two checks may say the same of one field (a whole-number check and a maximum): once is enough
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\n${e.message}`;
    return !seen.has(key) && !!seen.add(key);
  });
}

/** `Amount is not a known field; did you mean amount?` (or the known ones, when none is close). */
export function unknownFieldMessage(
  key: string,
  known: readonly string[] | null,
  what: "field" | "parameter" = "field",
): string {
  if (known === null) return `${key} is not a known ${what}`;
  if (known.length === 0) return `${key} is not a known ${what}: this route takes none`;
  const near = closestField(key, known);
  return near
    ? `${key} is not a known ${what}; did you mean ${near}?`
    : `${key} is not a known ${what} (known: ${known.join(", ")})`;
}

/** The parts of a zod 4 schema read here: its kind and what it wraps. */
interface SchemaLike {
  _zod?: {
    def?: {
      type?: string;
      shape?: Record<string, unknown>;
      innerType?: unknown;
      in?: unknown;
      element?: unknown;
    };
  };
}

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch"]);

function unwrap(schema: unknown): SchemaLike | null {
  let s = schema as SchemaLike | undefined;
  for (let depth = 0; s?._zod?.def && depth < 16; depth++) {
    const def = s._zod.def;
    if (WRAPPERS.has(def.type ?? "")) s = def.innerType as SchemaLike;
    else if (def.type === "pipe") s = def.in as SchemaLike;
    else return s;
  }
  return null;
}

/** The field names of the object at `path` in `schema`, or null when it is not one. */
function knownFieldsAt(schema: unknown, path: PropertyKey[]): string[] | null {
  let s = unwrap(schema);
  for (const segment of path) {
    const def = s?._zod?.def;
    if (def?.type === "object") s = unwrap(def.shape?.[String(segment)]);
    else if (def?.type === "array") s = unwrap(def.element);
    else return null;
  }
  const def = s?._zod?.def;
  return def?.type === "object" && def.shape ? Object.keys(def.shape) : null;
}

/** Edits (insert, delete, substitute, swap two neighbours) between two words. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The known field `key` was most likely meant as: the same but for case, a
 * typo or two away, or one that starts the other (`amount_cents` -> `amount`).
 */
export function closestField(key: string, known: readonly string[]): string | null {
  const k = key.toLowerCase();
  let best: { name: string; score: number } | null = null;
  for (const name of known) {
    const n = name.toLowerCase();
    let score = distance(k, n);
    if (score > Math.max(1, Math.floor(Math.min(k.length, n.length) / 4))) {
      const starts = (k.length >= 4 && n.startsWith(k)) || (n.length >= 4 && k.startsWith(n));
      if (!starts) continue;
      score = 10 + Math.abs(k.length - n.length);
    }
    if (!best || score < best.score) best = { name, score };
  }
  return best?.name ?? null;
}
