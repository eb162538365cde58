/**
 * The abuse harness: requests built from the OpenAPI document (every route,
 * valid and mutated bodies, params, queries, headers, cursors, huge and odd
 * inputs), sent through `app.request()` as each role, checked against what
 * the document and the problem format promise (README, "Abuse suite").
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import { ERROR_CODES } from "../../core/errors.ts";
import { checkBody, type ResponseChecker } from "./response_schema.ts";

export interface Operation {
  method: string;
  /** OpenAPI path with `{param}` placeholders */
  path: string;
  params: { name: string; in: string; schema?: JsonSchema }[];
  body: JsonSchema | null;
  bodyTypes: string[];
  statuses: Set<number>;
}

// deno-lint-ignore no-explicit-any
export type JsonSchema = any;

const METHODS = ["get", "post", "put", "patch", "delete"];

/** Every operation of the document, with `$ref`s resolved. */
export function operationsOf(doc: JsonSchema): Operation[] {
  const resolve = (s: JsonSchema, depth = 0): JsonSchema => {
    if (!s || typeof s !== "object" || depth > 8) return s;
    if (s.$ref) return resolve(doc.components.schemas[s.$ref.split("/").pop()], depth + 1);
    return s;
  };
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<JsonSchema>(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const content = op.requestBody?.content ?? {};
      out.push({
        method,
        path,
        params: (op.parameters ?? []).map((p: JsonSchema) => ({
          name: p.name,
          in: p.in,
          schema: resolve(p.schema),
        })),
        body: content["application/json"] ? resolve(content["application/json"].schema) : null,
        bodyTypes: Object.keys(content),
        statuses: new Set(Object.keys(op.responses ?? {}).map(Number)),
      });
    }
  }
  return out;
}

const odd = fc.constantFrom(
  "",
  " ",
  "../../etc/passwd",
  "%00",
  "\u0000",
  "💥".repeat(50),
  "a".repeat(5000),
  "null",
  "-1",
  "1e309",
  "<script>",
  "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
  "apr_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
  "adm_missing",
);

/** A value that fits `schema` (roughly: enums, types, required properties). */
export function valueFor(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return fc.constant(null);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf || schema.oneOf) {
    return fc.oneof(...(schema.anyOf ?? schema.oneOf).map((s: JsonSchema) => valueFor(s, depth)));
  }
  switch (schema.type) {
    case "integer":
      return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 1e6, 1e9) });
    case "number":
      return fc.double({ noNaN: true, min: 0, max: 1e6 });
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(valueFor(schema.items, depth + 1), { maxLength: 3 });
    case "object": {
      const props = Object.entries<JsonSchema>(schema.properties ?? {});
      const required = new Set<string>(schema.required ?? []);
      return fc.record(
        Object.fromEntries(props.map(([k, s]) => [k, valueFor(s, depth + 1)])),
        { requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)) },
      );
    }
    default:
      return fc.oneof(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.constantFrom("ops@example.com", "requested_by_customer", "viewer", "usd"),
      );
  }
}

/** A body: one that fits, one mutated (wrong types, extra fields, huge), or none. */
export function bodyFor(op: Operation): fc.Arbitrary<{ text: string | null; type: string | null }> {
  const json = (v: fc.Arbitrary<unknown>) => v.map((x) => JSON.stringify(x));
  const fits = op.body ? json(valueFor(op.body)) : fc.constant("{}");
  const mutated = fc.oneof(
    json(fc.anything({ maxDepth: 2 })),
    fits.map((s) => s.slice(0, Math.max(0, s.length - 1))), // cut short
    fc.constant(`{"note":"${"x".repeat(70 * 1024)}"}`),
    json(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), odd))),
  );
  return fc.record({
    text: fc.oneof({ weight: 3, arbitrary: fits }, { weight: 2, arbitrary: mutated }, {
      weight: 1,
      arbitrary: fc.constant(null),
    }),
    type: fc.oneof(
      { weight: 6, arbitrary: fc.constant("application/json") },
      { weight: 1, arbitrary: fc.constantFrom("text/plain", "multipart/form-data", null) },
    ),
  });
}

/** Path and query values: fitting ones, odd ones, forged cursors. */
export function paramFor(p: Operation["params"][number]): fc.Arbitrary<string | undefined> {
  const fits = valueFor(p.schema ?? { type: "string" }).map((v) =>
    v === null || v === undefined ? undefined : String(v)
  );
  const cursor = fc.oneof(fc.base64String({ maxLength: 80 }), fc.constant("eyJzIjoieCJ9.AAAA"));
  return fc.oneof(
    { weight: 4, arbitrary: fits },
    { weight: 2, arbitrary: odd },
    { weight: 1, arbitrary: p.name === "cursor" ? cursor : fc.constant(undefined) },
  );
}

/** zod's default phrases: a problem message names the field and the fix instead (README "API"). */
export const ZOD_WORDS =
  /Invalid input|Invalid (key|element|option|string|number|discriminator)|expected \w+, received|Too (small|big)|Unrecognized key|a valid (datetime|regex|starts_with)/;

/**
 * Asserts a response is one the document declares, a valid problem when it is
 * an error, and (with `schemas`) that its JSON body fits the declared schema.
 */
export async function checkResponse(
  op: Operation,
  res: Response,
  label: string,
  schemas?: ResponseChecker,
): Promise<void> {
  // never a 500; a 502/503 only where the route declares it (Stripe down, in this suite)
  assert.ok(
    res.status < 500 || (res.status !== 500 && op.statuses.has(res.status)),
    `${label}: ${res.status} ${await res.clone().text()}`,
  );
  assert.ok(
    op.statuses.has(res.status),
    `${label}: status ${res.status} is not declared (${[...op.statuses].join(", ")})`,
  );
  if (res.status >= 400) {
    assert.equal(res.headers.get("content-type"), "application/problem+json", label);
    const p = await res.clone().json();
    for (const k of ["type", "title", "status", "detail", "code", "request_id"]) {
      assert.ok(p[k] !== undefined, `${label}: problem without ${k}`);
    }
    assert.equal(p.status, res.status, label);
    const known = ERROR_CODES[p.code as keyof typeof ERROR_CODES];
    assert.ok(known, `${label}: unknown code ${p.code}`);
    assert.equal(known.status, res.status, `${label}: ${p.code}`);
    for (const text of [p.detail, ...(p.errors ?? []).map((e: { message: string }) => e.message)]) {
      assert.doesNotMatch(text, ZOD_WORDS, `${label}: a message in zod's own words`);
    }
  }
  if (schemas) await checkBody(schemas, op.method, op.path, res, label);
  else await res.body?.cancel();
}

/** Key prefixes a refused request may still write: denials, counters, locks, rate windows. */
const MAY_CHANGE = new Set([
  "audit",
  "audit_head",
  "audit_by_action",
  "audit_by_actor",
  "audit_by_target",
  "rate_windows",
  "admin_second_factor",
  // the shared Stripe call budget (a refused request may have asked Stripe)
  "stripe_bucket",
]);

/** Everything else in KV, as a comparable string per key. */
export async function snapshot(kv: Deno.Kv): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // the audit keys (which grow with every denial) lie together: read around them
  const ranges: Deno.KvListSelector[] = [
    { start: [""], end: ["audit"] },
    { start: ["audit\uffff"], end: ["\uffff"] },
  ];
  for (const range of ranges) {
    for await (const e of kv.list(range)) {
      if (MAY_CHANGE.has(String(e.key[0]))) continue;
      out.set(JSON.stringify(e.key), e.versionstamp);
    }
  }
  return out;
}

export function assertUnchanged(
  before: Map<string, string>,
  after: Map<string, string>,
  label: string,
) {
  const changed: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) changed.push(k);
  for (const k of before.keys()) if (!after.has(k)) changed.push(`${k} (deleted)`);
  assert.deepEqual(changed, [], `${label}: a refused request changed KV`);
}
