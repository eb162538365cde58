/**
 * What a request body may be, checked before anything reads it (README,
 * "Inputs and headers"): a declared media type (`415 unsupported_media_type`
 * otherwise; `application/json` is that type, not any `+json` one) and at most the route's
 * limit (`413 payload_too_large`), read without ever buffering more than the limit. A JSON
 * body is UTF-8: another charset is `415`, bytes that are no UTF-8 are `422` on `body` naming
 * the offset. The bytes read (and a JSON body's text, decoded once) are handed to Hono's body
 * cache, so the validators parse them from there.
 *
 * And `requestErrors`: the route's params, query, declared headers and body (JSON or form),
 * checked by the admin guard before a second factor is spent, so a typo does not burn a TOTP
 * code.
 */
import type { Context } from "hono";
import type { z } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { AppError, type FieldError, validationFailed } from "../core/errors.ts";
import { fieldErrors } from "../core/field_errors.ts";
import { decodeUtf8 } from "../core/encoding.ts";

/** The default for admin routes; a route declares more in its definition. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** The one JSON type the routes declare (a `+json` type such as merge-patch is another type). */
const JSON_TYPE = "application/json";

export interface BodyRule {
  /** media types the route declares (`application/json`, `multipart/form-data`) */
  types: string[];
  limit: number;
  /** the route's body is required: an empty one is 422 before anything else */
  required?: boolean;
  /** the route's JSON body schema: an empty body is told the fields it needs too */
  schema?: z.ZodType;
  /** the route's rule in words (and its one dominant field), for a body over `limit` */
  tooLarge?: TooLargeHint;
}

/**
 * What a body over the limit means on this route (README "Inputs and headers"): the rule in
 * words, and the field it is about when one field makes up the body (a note's `body.text`, an
 * upload's `body.file`), which the 413 names in `errors[]` as a field's own 413 does.
 */
export interface TooLargeHint {
  /** `body.text`; absent when no one field is the body (an evidence draft) */
  path?: string;
  /** the rule and what to do: `text takes at most 2,000 characters: …` */
  message: string;
}

function bodyRequired(rule: BodyRule): AppError {
  return validationFailed([
    { path: "body", message: `a request body is required: send ${rule.types.join(" or ")}` },
    // each required field by name, with its own words (`body.approval_hash`: where to get it)
    ...(rule.schema ? issuesOf(rule.schema, {}, "body") : []),
  ]);
}

/** An empty body: refused where one is required, else kept as `{}` (JSON) or nothing. */
function emptyBody(c: Context<AppEnv>, rule: BodyRule): void {
  if (rule.required) throw bodyRequired(rule);
  const bytes = mediaTypeOf(c) === JSON_TYPE ? new TextEncoder().encode("{}") : new Uint8Array();
  // Hono keeps promises in its body cache (its type says otherwise)
  c.req.bodyCache.arrayBuffer = Promise.resolve(bytes.buffer) as unknown as ArrayBuffer;
}

function mediaTypeOf(c: Context<AppEnv>): string {
  return (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

/** The `charset` parameter of the Content-Type (unquoted, as sent), or null when there is none. */
function charsetOf(c: Context<AppEnv>): string | null {
  for (const param of (c.req.header("content-type") ?? "").split(";").slice(1)) {
    const [name, ...value] = param.split("=");
    if (name.trim().toLowerCase() !== "charset") continue;
    return value.join("=").trim().replace(/^"(.*)"$/, "$1");
  }
  return null;
}

/** A JSON body in a charset other than UTF-8 (RFC 8259 §8.1: JSON is UTF-8). */
function otherCharset(type: string, charset: string): AppError {
  return new AppError(
    "unsupported_media_type",
    `Content-Type ${type}; charset=${charset} is not accepted here: send the body encoded as ` +
      "UTF-8 (charset=utf-8, or no charset)",
    { extra: { accepts: [JSON_TYPE] } },
  );
}

/**
 * The 422 for bytes that are no UTF-8 (README "Inputs and headers"): the body and where, so a
 * client sending ISO-8859-1 (`é` as the one byte 0xE9) learns which byte, before anything is
 * looked up or written. Also the webhook intake's.
 */
export function notUtf8(offset: number, byte: number): AppError {
  const shown = `0x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return validationFailed([{
    path: "body",
    message: `the body is not UTF-8: byte ${shown} at offset ${offset} begins no UTF-8 ` +
      "character (text encoded as ISO-8859-1 or Windows-1252?); send the body encoded as UTF-8",
  }]);
}

/** A JSON body's bytes as text, decoded once (refused when they are no UTF-8). */
export function utf8Text(bytes: Uint8Array): string {
  const decoded = decodeUtf8(bytes);
  if ("text" in decoded) return decoded.text;
  throw notUtf8(decoded.offset, decoded.byte);
}

function tooLarge(rule: BodyRule): AppError {
  const { limit, tooLarge: hint } = rule;
  const over = `the request body is larger than this route accepts (${limit} bytes)`;
  if (!hint) return new AppError("payload_too_large", `${over}; send less`, { extra: { limit } });
  return new AppError("payload_too_large", `${over}: ${hint.message}`, {
    extra: { limit },
    ...(hint.path ? { errors: [{ path: hint.path, message: hint.message }] } : {}),
  });
}

/** Reads at most `limit` bytes of the body; refuses (and stops reading) beyond. */
async function readCapped(c: Context<AppEnv>, rule: BodyRule): Promise<Uint8Array> {
  const limit = rule.limit;
  const body = c.req.raw.body;
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(rule);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function unsupported(type: string, rule: BodyRule): AppError {
  const accepts = rule.types.length ? rule.types.join(" or ") : "no body (or application/json)";
  return new AppError(
    "unsupported_media_type",
    `Content-Type ${type || "(none)"} is not accepted here; send ${accepts}`,
    { extra: { accepts: rule.types } },
  );
}

/** Checks type and size, and leaves the bytes in Hono's body cache. */
export async function gateBody(c: Context<AppEnv>, rule: BodyRule): Promise<void> {
  const method = c.req.method;
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return;
  const length = c.req.header("content-length");
  const declared = length !== undefined ? Number(length) : null;
  const hasBody = c.req.raw.body !== null && declared !== 0;
  if (!hasBody) return emptyBody(c, rule);
  if (declared !== null && Number.isFinite(declared) && declared > rule.limit) {
    await c.req.raw.body?.cancel().catch(() => {});
    throw tooLarge(rule);
  }
  const type = mediaTypeOf(c);
  const json = type === JSON_TYPE;
  // JSON is the API's language: a route that takes no body ignores an empty-ish JSON one
  const allowed = rule.types.length === 0 ? json : rule.types.includes(type);
  if (!allowed && type === "") {
    // No Content-Type: over HTTP/1.1 without Content-Length (curl -X POST) the body is a stream
    // that may well be empty. Only bytes make it a body of an undeclared type.
    const bytes = await readCapped(c, rule);
    if (bytes.byteLength === 0) return emptyBody(c, rule);
    throw unsupported(type, rule);
  }
  const charset = json ? charsetOf(c) : null;
  const refusal = !allowed
    ? unsupported(type, rule)
    : charset !== null && !/^utf-?8$/i.test(charset)
    ? otherCharset(type, charset)
    : null;
  if (refusal) {
    await c.req.raw.body?.cancel().catch(() => {});
    throw refusal;
  }
  const bytes = await readCapped(c, rule);
  // an empty JSON body reads as `{}`: a route with an optional body takes it as none
  if (bytes.byteLength === 0) return emptyBody(c, rule);
  // Hono keeps promises in its body cache (its type says otherwise); `json()` parses the text
  if (json) c.req.bodyCache.text = Promise.resolve(utf8Text(bytes)) as unknown as string;
  c.req.bodyCache.arrayBuffer = Promise.resolve(bytes.buffer) as unknown as ArrayBuffer;
}

/** True when the body (already gated) is empty. */
function bodyIsEmpty(c: Context<AppEnv>): Promise<boolean> {
  const cached = c.req.bodyCache.arrayBuffer as unknown as Promise<ArrayBuffer> | undefined;
  return cached ? cached.then((b) => b.byteLength === 0) : Promise.resolve(true);
}

export interface RequestSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  headers?: z.ZodType;
  body?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
}

function issuesOf(schema: z.ZodType, value: unknown, where: string): FieldError[] {
  const result = schema.safeParse(value);
  if (result.success) return [];
  return fieldErrors(where, result.error.issues, schema);
}

/** The JSON body sent, already gated; undefined when there is none (or it is not JSON). */
export async function jsonBodyOf(c: Context<AppEnv>): Promise<unknown> {
  if (mediaTypeOf(c) !== JSON_TYPE || await bodyIsEmpty(c)) return undefined;
  return await c.req.json().catch(() => undefined);
}

const FORM_TYPES = new Set(["multipart/form-data", "application/x-www-form-urlencoded"]);

/**
 * The form body sent, already gated, as the route's validator reads it (a name sent more than
 * once is a list); undefined when there is none, it is no form, or it does not parse (the
 * validator says so).
 */
export async function formBodyOf(c: Context<AppEnv>): Promise<Record<string, unknown> | undefined> {
  if (!FORM_TYPES.has(mediaTypeOf(c)) || await bodyIsEmpty(c)) return undefined;
  let data: FormData;
  try {
    data = await c.req.formData();
  } catch {
    return undefined;
  }
  const form: Record<string, unknown> = Object.create(null);
  data.forEach((value, key) => {
    const had = form[key];
    form[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  });
  return form;
}

/** What the route's own schemas say of the request: every field at fault, none when it passes. */
export async function requestErrors(
  c: Context<AppEnv>,
  request?: RequestSchemas,
): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  if (!request) return errors;
  if (request.params) errors.push(...issuesOf(request.params, c.req.param(), "path"));
  if (request.query) {
    const query = Object.fromEntries(
      Object.entries(c.req.queries()).map(([k, v]) => [k, v.length === 1 ? v[0] : v]),
    );
    errors.push(...issuesOf(request.query, query, "query"));
  }
  if (request.headers) {
    // header names arrive lower-cased, as the route schemas declare them
    errors.push(...issuesOf(request.headers, c.req.header(), "header"));
  }
  const schema = request.body?.content?.["application/json"]?.schema as z.ZodType | undefined;
  if (schema && mediaTypeOf(c) === JSON_TYPE && !(await bodyIsEmpty(c))) {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return [...errors, { path: "body", message: "the body is not valid JSON" }];
    }
    errors.push(...issuesOf(schema, body, "body"));
  }
  const formSchema = request.body?.content?.["multipart/form-data"]?.schema as
    | z.ZodType
    | undefined;
  const form = formSchema ? await formBodyOf(c) : undefined;
  if (formSchema && form) errors.push(...issuesOf(formSchema, form, "body"));
  return errors;
}
