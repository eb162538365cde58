/**
 * `GET /metrics`, `GET /problems` and `GET /problems/{code}` are operations of
 * the OpenAPI document (README, "API", "Metrics"): stable operationIds, who may
 * call them, and the content types they are served with; what they answer fits
 * what the document declares. `/docs` and `/openapi.json` stay out of it (README, "API").
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { createAdmin } from "./helpers/identity.ts";
import { checkBody, responseChecker } from "./helpers/response_schema.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const METRICS_TOKEN = "scraper-token-0123456789";

Deno.test("/metrics, /problems and /problems/{code} are in the document with ids, security and content types", async () => {
  const t = await createTestApp({ env: { METRICS_TOKEN } });
  try {
    const doc = await (await t.app.request("/openapi.json")).json();
    const metrics = doc.paths["/metrics"]?.get;
    assert.ok(metrics, "GET /metrics is in the document");
    assert.equal(metrics.operationId, "getMetrics");
    assert.deepEqual(metrics.security, [{ metricsToken: [] }, { bearerAuth: [] }]);
    assert.deepEqual(doc.components.securitySchemes.metricsToken.type, "http");
    assert.deepEqual(doc.components.securitySchemes.metricsToken.scheme, "bearer");
    assert.deepEqual(Object.keys(metrics.responses[200].content), ["text/plain"]);
    // 503: an admin's token is checked in KV, which did not answer (README, "Metrics")
    assert.deepEqual(Object.keys(metrics.responses).sort(), ["200", "401", "403", "429", "503"]);
    assert.match(metrics.responses[503].description, /`unavailable`/);
    assert.ok(metrics.responses[503].headers["retry-after"]);

    const index = doc.paths["/problems"]?.get;
    const page = doc.paths["/problems/{code}"]?.get;
    assert.ok(index && page, "GET /problems and /problems/{code} are in the document");
    assert.equal(index.operationId, "listProblems");
    assert.equal(page.operationId, "getProblem");
    for (const op of [index, page]) {
      assert.deepEqual(op.security, []);
      assert.deepEqual(Object.keys(op.responses[200].content), ["text/html"]);
    }
    assert.deepEqual(page.parameters.map((p: Json) => [p.in, p.name, p.required]), [
      ["path", "code", true],
    ]);
    assert.ok(page.responses[404].content["application/problem+json"]);

    const paths = Object.keys(doc.paths);
    assert.deepEqual(paths.filter((p) => p === "/openapi.json" || p.startsWith("/docs")), []);
  } finally {
    await t.close();
  }
});

Deno.test("what /metrics and the problem pages answer fits the document", async () => {
  const t = await createTestApp({ env: { METRICS_TOKEN } });
  try {
    const doc = await (await t.app.request("/openapi.json")).json();
    const checker = responseChecker(doc);
    const admin = await createAdmin(t, "admin");
    const viewer = await createAdmin(t, "viewer");
    const sends: [string, string, Record<string, string>, number][] = [
      ["/problems", "/problems", {}, 200],
      ["/problems/{code}", "/problems/not_found", {}, 200],
      ["/problems/{code}", "/problems/no_such_code", {}, 404],
      ["/metrics", "/metrics", { authorization: `Bearer ${METRICS_TOKEN}` }, 200],
      ["/metrics", "/metrics", { authorization: `Bearer ${admin.token}` }, 200],
      ["/metrics", "/metrics", {}, 401],
      ["/metrics", "/metrics", { authorization: `Bearer ${viewer.token}` }, 403],
    ];
    for (const [template, url, headers, status] of sends) {
      const res = await t.app.request(url, { headers });
      const label = `GET ${url} ${JSON.stringify(headers)}`;
      assert.equal(res.status, status, label);
      await checkBody(checker, "get", template, res, label);
    }
  } finally {
    await t.close();
  }
});
