/**
 * zod's issues in words a caller can act on: zod 4's default messages
 * ("Invalid input: expected string, received undefined") become "note is
 * required", "limit must be at most 100", "reason must be one of …". A schema's
 * own message (one that names the fix) is kept as written.
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
    case "unrecognized_keys":
      return `unknown field${(issue.keys?.length ?? 0) > 1 ? "s" : ""} ${
        (issue.keys ?? []).join(", ")
      }: remove ${(issue.keys?.length ?? 0) > 1 ? "them" : "it"}`;
    default:
      return `${field} is invalid: ${issue.message}`;
  }
}

function article(type: string): string {
  if (type === "int") return "a whole number";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * One FieldError per issue, with the path as `body.amount` / `query.limit` /
 * `header.x-otp-code`; an unknown field is named by its own path (`body.status`).
 */
export function fieldErrors(where: string, issues: readonly Issue[]): FieldError[] {
  return issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys" && issue.keys?.length) {
      return issue.keys.map((key) => ({
        path: [where, ...issue.path.map(String), key].join("."),
        message: issueMessage({ ...issue, keys: [key] }, key),
      }));
    }
    const path = [where, ...issue.path.map(String)];
    const field = issue.path.length ? String(issue.path.at(-1)) : where;
    return { path: path.join("."), message: issueMessage(issue, field) };
  });
}
