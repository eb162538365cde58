/**
 * Response bodies against the OpenAPI document: every JSON answer must fit
 * the schema the document declares for its route, status and content type
 * (`$ref`s to components resolved, OpenAPI 3.1 / JSON Schema 2020-12, with
 * `format: date-time` checked and `additionalProperties` as declared).
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import assert from "node:assert/strict";

// deno-lint-ignore no-explicit-any
type Doc = any;

/** RFC 3339 date-time, as `Date.prototype.toISOString` and Stripe-derived fields write it. */
const DATE_TIME =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/i;

/**
 * The headers the service sets that a client may act on: each one an answer
 * carries must be declared for its route and status, and each declared
 * `required` one must be there.
 */
const TRACKED_HEADERS = [
  "etag",
  "cache-control",
  "retry-after",
  "www-authenticate",
  "location",
  "idempotent-replayed",
  "x-request-id",
  "x-client-request-id",
  "content-disposition",
];

export interface ResponseChecker {
  /** Asserts the headers `res` carries of `TRACKED_HEADERS` are the ones declared for it. */
  checkHeaders(method: string, path: string, res: Response, label: string): void;
  /** Asserts `body` fits the schema declared for `method path` at `status` and `type`. */
  check(
    method: string,
    path: string,
    status: number,
    type: string,
    body: unknown,
    label: string,
  ): void;
}

export function responseChecker(doc: Doc): ResponseChecker {
  if (Deno.env.get("RESPONSE_SCHEMA_STRICT")) doc = closed(doc);
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true });
  ajv.addFormat("date-time", { type: "string", validate: (s: string) => DATE_TIME.test(s) });
  // OpenAPI's own keywords, which carry no validation
  for (const k of ["example", "discriminator", "xml", "externalDocs"]) ajv.addKeyword(k);
  ajv.addSchema({ $id: "openapi.json", components: doc.components });
  const cache = new Map<string, ValidateFunction | null>();
  const compiled = (method: string, path: string, status: number, type: string) => {
    const key = `${method} ${path} ${status} ${type}`;
    if (!cache.has(key)) {
      const res = doc.paths[path]?.[method]?.responses ?? {};
      const r = res[String(status)] ?? res.default;
      const schema = r?.content?.[type]?.schema;
      cache.set(key, schema ? ajv.compile(rebase(schema)) : null);
    }
    return cache.get(key)!;
  };
  return {
    checkHeaders(method, path, res, label) {
      const responses = doc.paths[path]?.[method]?.responses ?? {};
      const declared = responses[String(res.status)] ?? responses.default;
      if (!declared) return; // check() names an undeclared status
      const headers = new Map<string, Doc>(
        Object.entries<Doc>(declared.headers ?? {}).map(([name, h]) => [
          name.toLowerCase(),
          h.$ref ? doc.components.headers[h.$ref.split("/").pop()] : h,
        ]),
      );
      for (const name of TRACKED_HEADERS) {
        const sent = res.headers.has(name);
        const h = headers.get(name);
        assert.ok(!sent || h, `${label}: ${res.status} carries ${name}, not declared`);
        // The document's rule for an ETag: on every declared answer but a secret one (no-store).
        const required = h?.required ||
          (name === "etag" && h && !res.headers.get("cache-control")?.includes("no-store"));
        assert.ok(sent || !required, `${label}: ${res.status} lacks the required ${name}`);
      }
    },
    check(method, path, status, type, body, label) {
      const res = doc.paths[path]?.[method]?.responses ?? {};
      const declared = res[String(status)] ?? res.default;
      assert.ok(declared, `${label}: status ${status} is not declared`);
      if (!declared.content) return; // e.g. 204, 304: no body declared
      assert.ok(
        declared.content[type],
        `${label}: ${status} ${type} is not a declared content type (${
          Object.keys(declared.content).join(", ")
        })`,
      );
      const validate = compiled(method, path, status, type);
      if (!validate || validate(body)) return;
      assert.fail(
        `${label}: ${status} body does not fit the declared schema: ${
          ajv.errorsText(validate.errors, { separator: "; " })
        }\n${JSON.stringify(body).slice(0, 1500)}`,
      );
    },
  };
}

/** The schema with `#/components/...` refs pointed at the document added to Ajv. */
function rebase(schema: Doc): Doc {
  return JSON.parse(
    JSON.stringify(schema).replaceAll('"$ref":"#/components/', '"$ref":"openapi.json#/components/'),
  );
}

/** The media type of a response, without parameters. */
export function mediaType(res: Response): string {
  return (res.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

/** Reads a response's body (JSON when it says so) and checks it against the document. */
export async function checkBody(
  checker: ResponseChecker,
  method: string,
  path: string,
  res: Response,
  label: string,
): Promise<unknown> {
  checker.checkHeaders(method, path, res, label);
  const type = mediaType(res);
  const text = await res.text();
  if (!text && (res.status === 204 || res.status === 304)) return null;
  // a JSON document is checked as one; other declared types (NDJSON, CSV) as the text they are
  const json = type === "application/json" || type.endsWith("+json");
  const body = json ? JSON.parse(text) : text;
  checker.check(method, path, res.status, type, body, label);
  return body;
}

/**
 * The document with every object that declares its properties closed
 * (`unevaluatedProperties: false`), to list fields a response carries that the
 * document does not name (RESPONSE_SCHEMA_STRICT=1, `deno task test:long`). The
 * parts of an `allOf` stay open (a closed part would refuse the other part's
 * fields); the composition itself is closed.
 */
function closed(doc: Doc): Doc {
  const copy = structuredClone(doc);
  const open = new Set<string>();
  const mark = (s: Doc) => {
    if (!s || typeof s !== "object") return;
    if (Array.isArray(s.allOf)) {
      for (const part of s.allOf) {
        if (part.$ref) open.add(part.$ref.split("/").pop());
        part.__open = true;
      }
    }
    for (const v of Object.values(s)) mark(v);
  };
  mark(copy);
  const close = (s: Doc, name?: string) => {
    if (!s || typeof s !== "object") return;
    const declares = (s.type === "object" && s.properties) || Array.isArray(s.allOf);
    if (
      declares && s.additionalProperties === undefined && !s.__open && !(name && open.has(name))
    ) {
      s.unevaluatedProperties = false; // sees through allOf and $ref (JSON Schema 2020-12)
    }
    delete s.__open;
    for (const v of Object.values(s)) close(v);
  };
  for (const [name, s] of Object.entries(copy.components.schemas)) close(s, name);
  close(copy.paths);
  return copy;
}
