/**
 * Capture and cancel take the payment's txn_…, pi_… or ch_… id (README "A first session": "so are
 * retries' and the capture and cancel routes'"), and the OpenAPI document says so too.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";

Deno.test("capture by the charge's ch_ id, and the document names ch_ for capture and cancel", async () => {
  await withRetryWorld(async (w) => {
    const doc = await (await w.t.app.request("/openapi.json")).json();
    for (const action of ["capture", "cancel"]) {
      const op = doc.paths[`/api/admin/payments/transactions/{id}/${action}`].post;
      const id = op.parameters.find((p: { name: string; in: string }) =>
        p.name === "id" && p.in === "path"
      );
      for (const prefix of ["txn_", "pi_", "ch_"]) {
        assert.ok(String(id.description).includes(prefix), `${action}: ${id.description}`);
      }
    }

    const { pi } = await authorizeAtStripe(w.stripe, 5000, "by-charge@example.com");
    await w.deliver();
    const charge = String((await w.stripe.paymentIntents.retrieve(pi.id)).latest_charge);
    assert.match(charge, /^ch_/);
    const res = await w.t.app.request(
      `/api/admin/payments/transactions/${charge}/capture`,
      jsonRequest("POST", await w.stepUp(), {}),
    );
    assert.equal(res.status, 201);
    assert.equal(
      (await res.json() as { stripe_payment_intent: string }).stripe_payment_intent,
      pi.id,
    );
  });
});
