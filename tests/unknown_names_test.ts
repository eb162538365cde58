/**
 * Unknown query parameters and body fields are refused with a 422 naming each
 * one and the closest known name (README, "Inputs and headers"): a misspelt
 * filter would list everything, and a misspelt `amount` would leave the
 * default, a full refund.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  jsonRequest,
  otpHeaders,
  stepUpHeaders,
} from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";

Deno.test("a misspelt list filter is 422 naming it and the parameter meant, not the whole list", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const res = await t.app.request("/api/admin/payments/transactions?stauts=failed&limit=2", {
      headers: authHeaders(viewer),
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.errors[0].path, "query.stauts");
    assert.match(body.errors[0].message, /stauts is not a known parameter; did you mean status\?/);
    // a parameter no route of this kind takes, and one on a route that takes none
    const audit = await t.app.request("/api/admin/payments/transactions?currency=usd", {
      headers: authHeaders(viewer),
    });
    assert.equal(audit.status, 422);
    assert.match(
      (await audit.json()).errors[0].message,
      /currency is not a known parameter \(known: /,
    );
    const me = await t.app.request("/api/admin/me?verbose=1", { headers: authHeaders(viewer) });
    assert.equal(me.status, 422);
    assert.match(
      (await me.json()).errors[0].message,
      /verbose is not a known parameter: this route takes none/,
    );
    // the known ones pass
    const ok = await t.app.request("/api/admin/payments/transactions?status=failed&limit=2", {
      headers: authHeaders(viewer),
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  });
});

Deno.test("attack: a refund with `Amount` instead of `amount` is 422, and nothing is refunded", async () => {
  await withRefundWorld(async (w) => {
    const { txnId } = await w.pay(4796);
    const headers = await stepUpHeaders(w.t, w.operator);
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", headers, {
        transaction_id: txnId,
        Amount: 50,
        reason: "requested_by_customer",
        note: "partial",
      }),
    );
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.deepEqual(body.errors.map((e: { path: string }) => e.path), ["body.Amount"]);
    assert.match(body.errors[0].message, /Amount is not a known field; did you mean amount\?/);
    const refunds = await w.t.app.request(
      `/api/admin/payments/refunds?transaction_id=${txnId}`,
      { headers: authHeaders(w.operator) },
    );
    assert.equal((await refunds.json()).data.length, 0);
  });
});

Deno.test("an empty JSON body: none where the body is optional, 422 before the code is spent where it is required", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const empty = (path: string, headers: Record<string, string>) =>
      t.app.request(path, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "content-length": "0" },
      });
    // required (step-up's code): 422 naming the body
    const required = await empty("/api/admin/step-up", authHeaders(admin));
    assert.equal(required.status, 422);
    assert.match((await required.json()).errors[0].message, /a request body is required/);
    // optional (an approval's decision): taken as none, so it reaches the route's own answer
    const optional = await empty(
      "/api/admin/approvals/apr_01JD3Y8Z6QKQ2X5N7S9V4W1T0R/approve",
      otpHeaders(t, admin),
    );
    assert.equal(optional.status, 404, await optional.text());
  });
});

Deno.test("a JSON field sent to a route that takes no body is 422, and nothing is done", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const other = await createAdmin(t, "operator");
    const res = await t.app.request(
      `/api/admin/users/${other.id}/reset-2fa`,
      jsonRequest("POST", otpHeaders(t, a), { a: 1 }),
    );
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.errors[0].path, "body.a");
    assert.match(body.errors[0].message, /a is not a known field: this route takes none/);
    const pending = await t.services.approvals.list({ status: "pending", limit: 10 });
    assert.equal(pending.data.length, 0);
  });
});

Deno.test("POST /enroll refuses an unknown field with 422, not as a failed code counted against the address", async () => {
  await withTestApp(async (t) => {
    const res = await t.app.request(
      "/api/admin/enroll",
      jsonRequest("POST", {}, { code: "enr_x", extra: 1 }),
    );
    assert.equal(res.status, 422);
    assert.equal((await res.json()).errors[0].path, "body.extra");
    const query = await t.app.request(
      "/api/admin/enroll?debug=1",
      jsonRequest("POST", {}, { code: "enr_x" }),
    );
    assert.equal(query.status, 422);
    await query.body?.cancel();
  });
});
