/** Problem `type`s resolve: `/problems/{code}` on the service explains every code. */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { ERROR_CODES, type ErrorCode } from "../core/errors.ts";

/** The stable codes the README's API section promises. */
const DOCUMENTED_CODES = [
  "unauthenticated",
  "forbidden",
  "otp_required",
  "otp_invalid",
  "otp_replayed",
  "otp_locked",
  "step_up_expired",
  "validation_failed",
  "not_found",
  "method_not_allowed",
  "conflict",
  "precondition_failed",
  "idempotency_key_reused",
  "duplicate_suspected",
  "amount_exceeds_refundable",
  "self_approval_forbidden",
  "rate_limited",
  "stripe_error",
  "stripe_unavailable",
  "retry_refused",
  "payload_too_large",
  "unsupported_media_type",
  "signature_invalid",
  "charge_not_refundable",
  "payment_method_not_allowed",
  "enrollment_invalid",
  "configuration_error",
  "unavailable",
  "verify_busy",
  "internal",
];

Deno.test("every documented and every defined code has its own page: what happened, what to do", async () => {
  await withTestApp(async (t) => {
    const codes = new Set([...DOCUMENTED_CODES, ...Object.keys(ERROR_CODES)]);
    for (const code of codes) {
      assert.ok(Object.hasOwn(ERROR_CODES, code), `${code} is in the table of codes`);
      const info: { status: number; title: string; what?: string; todo?: string } =
        ERROR_CODES[code as ErrorCode];
      assert.ok(info.what && info.what.length > 20, `${code} explains what happened`);
      assert.ok(info.todo && info.todo.length > 20, `${code} says what to do`);
      const res = await t.app.request(`/problems/${code}`);
      assert.equal(res.status, 200, code);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      const html = await res.text();
      assert.ok(html.includes(`<code>${code}</code>`), code);
      assert.ok(html.includes(String(info.status)), code);
      assert.ok(html.includes("What to do"), code);
      assert.ok(!/<script/i.test(html));
    }
    const index = await (await t.app.request("/problems")).text();
    for (const code of codes) assert.ok(index.includes(`href="/problems/${code}"`), code);
  });
});

Deno.test("a problem document's type is a path of the service that resolves", async () => {
  await withTestApp(async (t) => {
    const res = await t.app.request("/api/admin/me");
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.type, "/problems/unauthenticated");
    const page = await t.app.request(body.type);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Authentication required/);
    const unknown = await t.app.request("/problems/no_such_code");
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).code, "not_found");
  });
});

Deno.test("/docs links to the problem codes", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    assert.match(doc.info.description, /\(\/problems\)/);
  });
});

Deno.test("the second-factor pages tell a person without their device about recovery codes", async () => {
  await withTestApp(async (t) => {
    for (const code of ["otp_required", "otp_invalid", "otp_locked"]) {
      const html = await (await t.app.request(`/problems/${code}`)).text();
      assert.match(html, /recovery code/, code);
    }
    // a wrong step-up token is step_up_expired, never otp_invalid: its page says codes only
    const invalid = ERROR_CODES.otp_invalid.what;
    assert.doesNotMatch(invalid, /step-up token/);
    // a scraper refused on /metrics finds METRICS_TOKEN on the page its problem links to
    assert.match(ERROR_CODES.unauthenticated.todo, /METRICS_TOKEN/);
  });
});
