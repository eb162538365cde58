/**
 * The bodies of the routes that move money or decide (refunds, their approval
 * and rejection, the approvals queue, capture and cancel, users) refuse a field
 * they do not know: a misspelt `amount` must never become a full refund.
 */
import assert from "node:assert/strict";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { fieldErrors } from "../core/field_errors.ts";
import { z } from "@hono/zod-openapi";

const P = "/api/admin/payments";

Deno.test("a misspelt amount is 422 naming body.Amount (did you mean amount?), and nothing is refunded", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const res = await w.t.app.request(
      `${P}/refunds`,
      jsonRequest("POST", otpHeaders(w.t, w.operator), {
        transaction_id: pay.txnId,
        Amount: 50,
        reason: "requested_by_customer",
        note: "typo amount",
      }),
    );
    assert.equal(res.status, 422);
    assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
    const body = await res.json();
    assert.equal(body.code, "validation_failed");
    assert.deepEqual(body.errors, [{
      path: "body.Amount",
      message: "Amount is not a known field; did you mean amount?",
    }]);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
  });
});

Deno.test("every money or decision body refuses an unknown field, naming body.<field>", async () => {
  await withRefundWorld(async (w) => {
    const rfd = "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";
    const sends: [string, string, Record<string, unknown>][] = [
      ["POST", `${P}/refunds`, {
        transaction_id: "txn_x",
        reason: "duplicate",
        note: "n",
        amout: 5,
      }],
      ["POST", `${P}/refunds/${rfd}/approve`, { note: "ok", approval_hsh: "x" }],
      ["POST", `${P}/refunds/${rfd}/reject`, { note: "no", foo: 1 }],
      ["POST", `/api/admin/approvals/${rfd}/approve`, { note: "ok", foo: 1 }],
      ["POST", `/api/admin/approvals/${rfd}/reject`, { note: "no", foo: 1 }],
      ["POST", `${P}/transactions/txn_x/capture`, { amount: 100 }],
      ["POST", `${P}/transactions/txn_x/cancel`, {
        reason: "abandoned",
        note: "n",
        foo: 1,
      }],
      ["POST", "/api/admin/users", { email: "a@example.com", role: "viewer", foo: 1 }],
      ["PATCH", `/api/admin/users/adm_x`, { role: "viewer", foo: 1 }],
    ];
    for (const [method, path, body] of sends) {
      const res = await w.t.app.request(path, jsonRequest(method, otpHeaders(w.t, w.admin), body));
      const problem = await res.json();
      assert.equal(res.status, 422, `${method} ${path}: ${JSON.stringify(problem)}`);
      const unknown = Object.keys(body).find((k) =>
        ["amout", "approval_hsh", "foo", "amount"].includes(k)
      )!;
      const error = problem.errors.find((e: { path: string }) => e.path === `body.${unknown}`);
      assert.ok(error, `${method} ${path}: ${JSON.stringify(problem.errors)}`);
      assert.match(error.message, new RegExp(`^${unknown} is not a known field`));
    }
  });
});

Deno.test("the suggestion is the closest known field, and only when one is close", () => {
  const schema = z.object({ amount: z.number().optional(), note: z.string() }).strict();
  const parsed = schema.safeParse({ note: "n", AMOUNT: 1, amount_cents: 2, zzz: 3 });
  assert.equal(parsed.success, false);
  assert.deepEqual(fieldErrors("body", parsed.error!.issues, schema), [
    { path: "body.AMOUNT", message: "AMOUNT is not a known field; did you mean amount?" },
    {
      path: "body.amount_cents",
      message: "amount_cents is not a known field; did you mean amount?",
    },
    { path: "body.zzz", message: "zzz is not a known field (known: amount, note)" },
  ]);
});

Deno.test("the OpenAPI document says these bodies take no other field", async () => {
  await withRefundWorld(async (w) => {
    const doc = await (await w.t.app.request("/openapi.json")).json();
    const schemas = doc.components.schemas;
    for (const name of ["RefundRequest", "RefundApproval", "RefundRejection"]) {
      assert.equal(schemas[name].additionalProperties, false, name);
    }
    const bodyOf = (path: string, method = "post") => {
      const s = doc.paths[path][method].requestBody.content["application/json"].schema;
      return s.$ref ? schemas[s.$ref.split("/").at(-1)] : s;
    };
    for (
      const [path, method] of [
        ["/api/admin/approvals/{id}/approve", "post"],
        ["/api/admin/approvals/{id}/reject", "post"],
        ["/api/admin/payments/transactions/{id}/capture", "post"],
        ["/api/admin/payments/transactions/{id}/cancel", "post"],
        ["/api/admin/users", "post"],
        ["/api/admin/users/{id}", "patch"],
      ]
    ) {
      assert.equal(bodyOf(path, method).additionalProperties, false, `${method} ${path}`);
    }
  });
});
