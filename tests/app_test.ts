import assert from "node:assert/strict";
import { createTestApp, withTestApp } from "./helpers/app.ts";

Deno.test("GET /healthz answers ok with a request id", async () => {
  await withTestApp(async (t) => {
    const res = await t.app.request("/healthz");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("x-request-id") ?? "", /^req_[0-9A-Z]{26}$/);
    assert.deepEqual(await res.json(), { ok: true });
  });
});

Deno.test("GET /readyz reports KV reachable", async () => {
  await withTestApp(async (t) => {
    const res = await t.app.request("/readyz");
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.ok, true);
    assert.equal(body.checks.kv.ok, true);
  });
});

Deno.test("GET /readyz is 503 when KV is gone", async () => {
  const t = await createTestApp();
  t.kv.close();
  const res = await t.app.request("/readyz");
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.ok, false);
  assert.equal(body.checks.kv.ok, false);
});

Deno.test("an unknown route is a problem+json 404", async () => {
  await withTestApp(async (t) => {
    const res = await t.app.request("/nope", { headers: { "x-request-id": "client-req-12345" } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    // a client's X-Request-Id is kept beside ours, never as ours
    assert.match(res.headers.get("x-request-id") ?? "", /^req_/);
    assert.equal(res.headers.get("x-client-request-id"), "client-req-12345");
    const body = await res.json();
    assert.equal(body.code, "not_found");
    assert.equal(body.status, 404);
    assert.equal(body.request_id, res.headers.get("x-request-id"));
  });
});

Deno.test("GET /openapi.json is an OpenAPI 3.1 document", async () => {
  await withTestApp(async (t) => {
    const res = await t.app.request("/openapi.json");
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/healthz"].get);
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, "bearer");
    assert.equal(doc.components.securitySchemes.otpCode.name, "X-OTP-Code");
  });
});
