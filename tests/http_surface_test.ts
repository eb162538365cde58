/**
 * What any caller, token or not, gets from the HTTP surface (README, "API",
 * "Challenges and methods"): a `WWW-Authenticate` challenge on every 401, and 405
 * with `Allow` for a path that exists with other methods (after the token, on the
 * admin surface).
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";

const METRICS_TOKEN = "scrape-token-0123456789";

Deno.test("every 401 carries a Bearer challenge; a refused token says invalid_token", async () => {
  await withTestApp(async (t) => {
    const challenge = 'Bearer realm="payops"';
    const refused = 'Bearer realm="payops", error="invalid_token"';
    const cases: [string, { headers?: Record<string, string> }, string][] = [
      ["/metrics", {}, challenge],
      ["/metrics", { headers: { authorization: "Bearer nope-nope-nope" } }, refused],
      ["/metrics", { headers: { authorization: "Basic dXNlcjpwYXNz" } }, challenge],
      ["/api/admin/me", {}, challenge],
      ["/api/admin/me", { headers: { authorization: `Bearer pot_${"x".repeat(43)}` } }, refused],
      ["/api/admin/payments/refunds", {}, challenge],
    ];
    for (const [path, init, expected] of cases) {
      const res = await t.app.request(path, init);
      assert.equal(res.status, 401, path);
      assert.equal(
        res.headers.get("www-authenticate"),
        expected,
        `${path} ${JSON.stringify(init.headers)}`,
      );
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.equal((await res.json()).code, "unauthenticated");
    }
    // a second-factor 401: the token was good, so no error about it, but still a challenge
    const operator = await createAdmin(t, "operator");
    const otp = await t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", authHeaders(operator), {
        transaction_id: "pi_nope",
        amount: 100,
        reason: "requested_by_customer",
        note: "no second factor",
      }),
    );
    assert.equal(otp.status, 401);
    assert.equal((await otp.json()).code, "otp_required");
    assert.equal(otp.headers.get("www-authenticate"), challenge);
    // other answers carry none
    const ok = await t.app.request("/api/admin/me", { headers: authHeaders(operator) });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("www-authenticate"), null);
    await ok.body?.cancel();
  }, { env: { METRICS_TOKEN } });
});

Deno.test("a wrong method on a path that exists is 405 with Allow; an unknown path stays 404", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const del = await t.app.request("/api/admin/me", {
      method: "DELETE",
      headers: authHeaders(viewer),
    });
    assert.equal(del.status, 405);
    assert.equal(del.headers.get("content-type"), "application/problem+json");
    assert.equal(del.headers.get("allow"), "GET, HEAD");
    const body = await del.json();
    assert.equal(body.code, "method_not_allowed");
    assert.equal(body.type, "/problems/method_not_allowed");
    assert.equal(body.status, 405);
    assert.match(body.detail, /DELETE/);
    assert.match(body.detail, /GET, HEAD/);
    assert.match(String(del.headers.get("x-request-id")), /^req_/);

    // a path template with an id: every method the template has, whatever the id
    const put = await t.app.request("/api/admin/payments/fraud/snoozes/snz_nope", {
      method: "PUT",
      headers: authHeaders(viewer),
    });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "DELETE");
    await put.body?.cancel();

    // a public path: no token needed to be told
    const health = await t.app.request("/healthz", { method: "POST" });
    assert.equal(health.status, 405);
    assert.equal(health.headers.get("allow"), "GET, HEAD");
    await health.body?.cancel();
    const enroll = await t.app.request("/api/admin/enroll", { method: "GET" });
    assert.equal(enroll.status, 405, "enrollment takes no token");
    assert.equal(enroll.headers.get("allow"), "POST");
    await enroll.body?.cancel();

    // the admin surface tells its methods to a caller with a token only: the token first
    const anonymous = await t.app.request("/api/admin/me", { method: "DELETE" });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("allow"), null);
    assert.equal((await anonymous.json()).code, "unauthenticated");

    for (const [method, path] of [["DELETE", "/api/admin/nope"], ["GET", "/no/such/route"]]) {
      const res = await t.app.request(path, { method, headers: authHeaders(viewer) });
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get("allow"), null);
      assert.equal((await res.json()).code, "not_found");
    }
    // a trailing slash is another path, as routing has it
    const slash = await t.app.request("/api/admin/me/", {
      method: "DELETE",
      headers: authHeaders(viewer),
    });
    assert.equal(slash.status, 404);
    await slash.body?.cancel();
  });
});
