import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { SNAPSHOT_URL, snapshotText } from "../scripts/write_openapi.ts";
import { DOCS_ASSETS, DOCS_ASSETS_PATH, DOCS_CSP, SWAGGER_UI_VERSION } from "../openapi/docs.ts";

const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];

interface Operation {
  summary?: string;
  security?: Record<string, string[]>[];
  responses?: Record<string, { content?: Record<string, unknown> }>;
  "x-permission"?: string;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, unknown> };
}

/**
 * Error responses that are deliberately not problem documents, with why.
 * /readyz answers 503 with the same readiness body as its 200, for probes.
 */
const NON_PROBLEM_ERRORS = new Set(["GET /readyz 503"]);

async function servedDocument(): Promise<Document> {
  const t = await createTestApp();
  try {
    const res = await t.app.request("/openapi.json");
    assert.equal(res.status, 200);
    return await res.json();
  } finally {
    await t.close();
  }
}

function operations(doc: Document): { name: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({
      name: `${m.toUpperCase()} ${path}`,
      path,
      op: item[m],
    }))
  );
}

/** The first line where two texts differ, to point at the drift. */
function firstDifference(a: string, b: string): string {
  const al = a.split("\n");
  const bl = b.split("\n");
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) {
      return `line ${i + 1}: served ${JSON.stringify(al[i])}, snapshot ${JSON.stringify(bl[i])}`;
    }
  }
  return "no line differs";
}

Deno.test("openapi/openapi.json equals the document served at /openapi.json", async () => {
  const served = snapshotText(await servedDocument());
  let committed = "";
  try {
    committed = await Deno.readTextFile(SNAPSHOT_URL);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (served !== committed) {
    const servedPaths = Object.keys(JSON.parse(served).paths);
    const committedPaths = committed ? Object.keys(JSON.parse(committed).paths ?? {}) : [];
    const added = servedPaths.filter((p) => !committedPaths.includes(p));
    const removed = committedPaths.filter((p) => !servedPaths.includes(p));
    assert.fail(
      "openapi/openapi.json is out of date with the routes: run `deno task openapi` and commit it. " +
        `New paths: [${added.join(", ")}]; gone: [${removed.join(", ")}]; first change at ` +
        firstDifference(served, committed),
    );
  }
});

Deno.test("the OpenAPI document is 3.1.0 with the bearer, METRICS_TOKEN, OTP and step-up schemes", async () => {
  const doc = await servedDocument();
  assert.equal(doc.openapi, "3.1.0");
  assert.deepEqual(doc.components?.securitySchemes?.bearerAuth, {
    type: "http",
    scheme: "bearer",
    description: "API token of an admin, from `deno task admin create`",
  });
  assert.deepEqual(
    Object.keys(doc.components?.securitySchemes ?? {}).sort(),
    ["bearerAuth", "metricsToken", "otpCode", "stepUp"],
  );
});

function missingSummaries(doc: Document): string[] {
  return operations(doc).filter(({ op }) => !op.summary?.trim()).map(({ name }) => name);
}

function nonProblemErrors(doc: Document): string[] {
  const offenders: string[] = [];
  for (const { name, op } of operations(doc)) {
    for (const [status, response] of Object.entries(op.responses ?? {})) {
      if (!/^[45]/.test(status) || NON_PROBLEM_ERRORS.has(`${name} ${status}`)) continue;
      const types = Object.keys(response.content ?? {});
      if (types.length !== 1 || types[0] !== "application/problem+json") {
        offenders.push(`${name} ${status} [${types.join(", ")}]`);
      }
    }
  }
  return offenders;
}

function unguardedAdminOperations(doc: Document): string[] {
  const schemes = new Set(Object.keys(doc.components?.securitySchemes ?? {}));
  const offenders: string[] = [];
  for (const { name, path, op } of operations(doc)) {
    // the enrollment code is the credential there: no bearer token yet
    if (!path.startsWith("/api/admin") || path === "/api/admin/enroll") continue;
    if (typeof op["x-permission"] !== "string" || op["x-permission"] === "") {
      offenders.push(`${name}: no x-permission`);
    }
    const requirements = op.security ?? [];
    if (requirements.length === 0 || requirements.some((r) => !("bearerAuth" in r))) {
      offenders.push(`${name}: no bearerAuth security requirement`);
    }
    for (const scheme of requirements.flatMap((r) => Object.keys(r))) {
      if (!schemes.has(scheme)) offenders.push(`${name}: unknown security scheme ${scheme}`);
    }
  }
  return offenders;
}

Deno.test("every operation has a summary", async () => {
  assert.deepEqual(missingSummaries(await servedDocument()), [], "operations without a summary");
});

Deno.test("every 4xx/5xx response of every operation is application/problem+json", async () => {
  assert.deepEqual(
    nonProblemErrors(await servedDocument()),
    [],
    "error responses that do not declare only problem+json",
  );
});

Deno.test("every /api/admin operation declares x-permission and a known security scheme", async () => {
  assert.deepEqual(unguardedAdminOperations(await servedDocument()), []);
});

Deno.test("the document checks name the operations that break them", () => {
  const problem = { content: { "application/problem+json": {} } };
  const doc: Document = {
    openapi: "3.1.0",
    components: { securitySchemes: { bearerAuth: {} } },
    paths: {
      "/api/admin/refunds": {
        post: {
          summary: "Refund a payment",
          security: [{ bearerAuth: [] }, { bearerAuth: [], otpCode: [] }],
          responses: { 201: { content: { "application/json": {} } }, 422: problem },
          "x-permission": "refunds.create",
        },
        get: { summary: " ", responses: { 401: { content: { "application/json": {} } } } },
      },
      "/readyz": { get: { summary: "ready", responses: { 503: {} } } },
    },
  };
  assert.deepEqual(missingSummaries(doc), ["GET /api/admin/refunds"]);
  assert.deepEqual(nonProblemErrors(doc), ["GET /api/admin/refunds 401 [application/json]"]);
  assert.deepEqual(unguardedAdminOperations(doc), [
    "GET /api/admin/refunds: no x-permission",
    "GET /api/admin/refunds: no bearerAuth security requirement",
    "POST /api/admin/refunds: unknown security scheme otpCode",
  ]);
});

Deno.test("the docs routes are not operations of the document", async () => {
  const paths = Object.keys((await servedDocument()).paths);
  assert.deepEqual(paths.filter((p) => p.startsWith("/docs")), []);
});

Deno.test("GET /docs serves Swagger UI with a strict CSP and every asset it links", async (t) => {
  const app = await createTestApp();
  try {
    const page = await app.app.request("/docs");
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=UTF-8");
    assert.equal(page.headers.get("content-security-policy"), DOCS_CSP);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const html = await page.text();
    assert.match(html, /<div id="swagger-ui"><\/div>/);
    // No inline script: every <script> has a same-origin src.
    const scripts = [...html.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)];
    assert.equal(scripts.length, 2);
    for (const [, attrs, body] of scripts) {
      assert.match(attrs, / src="\/docs\//);
      assert.equal(body.trim(), "");
    }
    assert.doesNotMatch(html, /https?:\/\//, "the page must not load anything from another origin");

    const linked = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(
      linked.sort(),
      [
        ...Object.keys(DOCS_ASSETS).map((f) => `${DOCS_ASSETS_PATH}/${f}`),
        "/docs/init.js",
      ].sort(),
    );

    for (const url of linked) {
      await t.step(`${url} answers 200 with its content type and the CSP`, async () => {
        const res = await app.app.request(url);
        const body = new Uint8Array(await res.arrayBuffer());
        assert.equal(res.status, 200);
        assert.ok(body.length > 0);
        assert.equal(res.headers.get("content-security-policy"), DOCS_CSP);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        const file = url.split("/").pop()!;
        const expected = url === "/docs/init.js"
          ? "text/javascript; charset=utf-8"
          : DOCS_ASSETS[file];
        assert.equal(res.headers.get("content-type"), expected);
        if (url.startsWith(DOCS_ASSETS_PATH)) {
          assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
        }
      });
    }

    await t.step("the init script loads /openapi.json and does not persist the token", async () => {
      const js = await (await app.app.request("/docs/init.js")).text();
      assert.match(js, /url: "\/openapi\.json"/);
      assert.match(js, /persistAuthorization: false/);
    });

    await t.step("an unknown asset is a problem+json 404", async () => {
      const res = await app.app.request(`${DOCS_ASSETS_PATH}/package.json`);
      assert.equal(res.status, 404);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.equal((await res.json()).code, "not_found");
    });
  } finally {
    await app.close();
  }
});

Deno.test("the asset URLs carry the swagger-ui-dist version pinned in deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(config.imports["swagger-ui-dist"], `npm:swagger-ui-dist@${SWAGGER_UI_VERSION}`);
});

/**
 * Names of timestamp fields: `*_at`, `*_until`, `until`, `created`, `last_used`, `*_due_by`.
 * `watch_at`, `alert_at` and `extra_at` are a fraud rule's thresholds, not times.
 */
const TIME_NAME = /(_at|_until|^until|^created|^last_used|_due_by|^at_iso)$/;
const NOT_TIMES = new Set(["watch_at", "alert_at", "extra_at"]);
/**
 * The two times that are numbers (README "API"): a webhook event's `created` is Stripe's own
 * value (unix seconds, beside our `received_at`); an audit entry's `at` (ms) is part of the
 * hashed entry, with `at_iso` beside it.
 */
const NUMERIC_TIMES = new Set(["WebhookEvent.created", "AuditEntry.at"]);

// deno-lint-ignore no-explicit-any
function timeFieldsOffType(doc: any): string[] {
  const offenders: string[] = [];
  // deno-lint-ignore no-explicit-any
  const walk = (s: any, where: string) => {
    if (!s || typeof s !== "object") return;
    if (Array.isArray(s)) return s.forEach((x) => walk(x, where));
    for (const [name, prop] of Object.entries<Record<string, unknown>>(s.properties ?? {})) {
      const at = `${where}.${name}`;
      if (NUMERIC_TIMES.has(at.replace(/^.*\/(\w+)\./, "$1."))) continue;
      if (!TIME_NAME.test(name) && name !== "at" || NOT_TIMES.has(name)) continue;
      const options = (prop.anyOf as Record<string, unknown>[] | undefined) ?? [prop];
      const ok = options.every((o) =>
        (o.type === "null") ||
        ((o.type === "string" || (Array.isArray(o.type) && o.type.includes("string"))) &&
          o.format === "date-time")
      );
      if (!ok) offenders.push(`${at}: ${JSON.stringify(prop)}`);
    }
    for (const [k, v] of Object.entries(s)) if (k !== "properties") walk(v, where);
    for (const [name, v] of Object.entries(s.properties ?? {})) walk(v, `${where}.${name}`);
  };
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    walk(schema, `#/components/schemas/${name}`);
  }
  walk(doc.paths, "paths");
  return offenders;
}

Deno.test("every time the service shows is an ISO 8601 date-time string, but the two documented numbers", async () => {
  const doc = await servedDocument();
  assert.deepEqual(timeFieldsOffType(doc), []);
  const schemas = (doc.components as { schemas: Record<string, { properties: object }> }).schemas;
  assert.deepEqual(
    (schemas.WebhookEvent.properties as Record<string, unknown>).created,
    { type: "integer", description: "Stripe's `created`, unix seconds" },
  );
});

// deno-lint-ignore no-explicit-any
function undeclaredServiceHeaders(doc: any): string[] {
  const offenders: string[] = [];
  for (const { name, path, op } of operations(doc)) {
    // deno-lint-ignore no-explicit-any
    const responses = op.responses as Record<string, any>;
    const json200 = responses[200]?.content?.["application/json"];
    if (name.startsWith("GET /api/admin") && json200) {
      if (!responses[200].headers?.etag) offenders.push(`${name} 200: no etag`);
      if (!responses[304]) offenders.push(`${name}: no 304`);
      // deno-lint-ignore no-explicit-any
      const params = (op as any).parameters ?? [];
      // deno-lint-ignore no-explicit-any
      if (!params.some((p: any) => p.in === "header" && p.name === "if-none-match")) {
        offenders.push(`${name}: no if-none-match parameter`);
      }
    }
    for (const [status, response] of Object.entries(responses)) {
      if ((status === "429" || status === "503") && !NON_PROBLEM_ERRORS.has(`${name} ${status}`)) {
        if (!response.headers?.["retry-after"]) offenders.push(`${name} ${status}: no retry-after`);
      }
      // RFC 9110: every 401 carries a challenge (README, "API")
      if (status === "401" && !response.headers?.["www-authenticate"]) {
        offenders.push(`${name} ${status}: no www-authenticate`);
      }
      if (!response.headers?.["x-request-id"]) offenders.push(`${name} ${status}: no x-request-id`);
      if (path.startsWith("/api/admin") && !response.headers?.["cache-control"]) {
        offenders.push(`${name} ${status}: no cache-control`);
      }
    }
  }
  return offenders;
}

Deno.test("the document declares the headers the service sends: ETag and 304 on admin reads, Retry-After on 429 and 503, WWW-Authenticate on 401, X-Request-Id everywhere", async () => {
  assert.deepEqual(undeclaredServiceHeaders(await servedDocument()), []);
});

Deno.test("every operation declares the 503 `unavailable` (problem+json) that a stopping server answers with Retry-After", async () => {
  const doc = await servedDocument();
  // liveness is served while the server stops (README, "Quick start"; routes/drain.ts): it never
  // answers 503. Metrics are served while it stops too, but an admin's token is checked in KV,
  // so a scrape with one is 503 while the store does not answer (README, "Metrics")
  const healthz = operations(doc).find((o) => o.name === "GET /healthz");
  assert.deepEqual(Object.keys(healthz?.op.responses ?? {}), ["200"]);
  const undeclared = operations(doc).filter(({ name }) => name !== "GET /healthz")
    .filter(
      ({ op }) => {
        const r = op.responses?.["503"] as
          | { description?: string; content?: Record<string, unknown>; headers?: object }
          | undefined;
        return !r?.description?.includes("`unavailable`") ||
          !r.content?.["application/problem+json"];
      },
    ).map((o) => o.name);
  assert.deepEqual(undeclared, []);

  // what a stopping server answers: tests/drain_refusals_test.ts
});
