/** Error messages name the problem in words a caller can act on. */
import assert from "node:assert/strict";
import { z } from "zod";
import { authHeaders, jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { fieldErrors } from "../routes/field_errors.ts";

const BASE = "/api/admin/payments/refunds";

async function problem(res: Response) {
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  return await res.json();
}

Deno.test("a missing field says `<field> is required`, naming it in errors[]", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(2000);
    const headers = await stepUpHeaders(w.t, w.operator);
    const res = await w.t.app.request(
      BASE,
      jsonRequest("POST", headers, { transaction_id: pay.txnId, reason: "duplicate" }),
    );
    assert.equal(res.status, 422);
    const body = await problem(res);
    assert.equal(body.code, "validation_failed");
    assert.deepEqual(body.errors, [{ path: "body.note", message: "note is required" }]);
    assert.equal(body.detail, "body.note: note is required");
  });
});

Deno.test("a refund id that names no refund is 404 `no refund …`, not a format error", async () => {
  await withRefundWorld(async (w) => {
    const res = await w.t.app.request(`${BASE}/rfd_nope`, { headers: authHeaders(w.operator) });
    assert.equal(res.status, 404);
    const body = await problem(res);
    assert.equal(body.code, "not_found");
    assert.match(body.detail, /^no refund rfd_nope/);
  });
});

Deno.test("a token that is not one of ours is called unknown, not malformed", async () => {
  await withRefundWorld(async (w) => {
    const res = await w.t.app.request("/api/admin/me", {
      headers: { authorization: "Bearer 12345" },
    });
    assert.equal(res.status, 401);
    const body = await problem(res);
    assert.match(body.detail, /^unknown token/);
    assert.doesNotMatch(body.detail, /malformed/);
  });
});

Deno.test("fieldErrors() words zod's defaults and keeps a schema's own message", () => {
  const schema = z.object({
    note: z.string(),
    limit: z.number().int().max(100),
    reason: z.enum(["duplicate", "fraudulent"]),
    kept: z.string().min(3, "kept needs three letters, like abc"),
  }).strict();
  const parsed = schema.safeParse({ limit: 101, reason: "x", kept: "a", extra: 1 });
  assert.equal(parsed.success, false);
  const byPath = Object.fromEntries(
    fieldErrors("body", parsed.error!.issues).map((e) => [e.path, e.message]),
  );
  assert.deepEqual(byPath, {
    "body.note": "note is required",
    "body.limit": "limit must be at most 100",
    "body.reason": "reason must be one of duplicate, fraudulent",
    "body.kept": "kept needs three letters, like abc",
    "body.extra": "extra is not a known field",
  });
});

Deno.test("a pattern zod would call 'a valid regex' is shown as the pattern", () => {
  const parsed = z.object({ code: z.string().regex(/^[A-Z]{2}$/) }).safeParse({ code: "x" });
  assert.equal(parsed.success, false);
  assert.deepEqual(fieldErrors("body", parsed.error!.issues), [
    { path: "body.code", message: "code must match the pattern /^[A-Z]{2}$/" },
  ]);
});

Deno.test("an approval_hash that is not a hash says where the hash comes from", async () => {
  await withRefundWorld(async (w) => {
    const headers = await stepUpHeaders(w.t, w.admin);
    const res = await w.t.app.request(
      `${BASE}/rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R/approve`,
      jsonRequest("POST", headers, { approval_hash: "abc" }),
    );
    assert.equal(res.status, 422);
    const body = await problem(res);
    assert.equal(body.errors[0].path, "body.approval_hash");
    assert.match(body.errors[0].message, /approval\.hash.*GET \/refunds\/\{id\}/);
    assert.doesNotMatch(body.detail, /regex/);
  });
});

Deno.test("an id in the wrong form names the field and the form, as a sentence", async () => {
  await withRefundWorld(async (w) => {
    const res = await w.t.app.request("/api/admin/payments/transactions/nope", {
      headers: authHeaders(w.operator),
    });
    assert.equal(res.status, 422);
    const body = await problem(res);
    assert.equal(
      body.detail,
      "path.id: id must be a transaction id (txn_…) or a Stripe PaymentIntent/Charge id (pi_…, ch_…)",
    );
  });
});
