/**
 * An `Idempotency-Key` sent again with another request is 422
 * `idempotency_key_reused` saying what it was first used for: another path
 * (another dispute, the same body) names that request's method and path, and
 * another body says so; either way the fix is a new key for a new request.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { disputedPayment } from "./helpers/disputes.ts";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";

Deno.test("a key reused on another dispute names the request it was first used for, not another body", async () => {
  await withRefundWorld(async (w) => {
    const a = (await disputedPayment(w)).dispute;
    const b = (await disputedPayment(w)).dispute;
    const accept = (id: string, note: string) =>
      w.t.app.request(
        `/api/admin/payments/disputes/${id}/accept`,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator), "idempotency-key": "k-1" }, {
          note,
        }),
      );
    assert.equal((await accept(a.id, "fraud confirmed")).status, 200);
    const other = await accept(b.id, "fraud confirmed");
    const problem = await other.json();
    assert.equal(other.status, 422, JSON.stringify(problem));
    assert.equal(problem.code, "idempotency_key_reused");
    const said = problem.errors[0].message as string;
    assert.equal(problem.errors[0].path, "header.idempotency-key");
    assert.doesNotMatch(said, /another body/);
    assert.ok(said.includes(`POST /api/admin/payments/disputes/${a.id}/accept`), said);
    assert.match(said, /a new Idempotency-Key for a new request/);
    assert.ok(problem.detail.includes(`/disputes/${a.id}/accept`), problem.detail);
    // the same path with another body says so
    const body = await (await accept(a.id, "another note")).json();
    assert.equal(body.code, "idempotency_key_reused");
    assert.match(body.errors[0].message, /another body/);
    assert.match(body.errors[0].message, /a new Idempotency-Key for a new request/);
  });
});
