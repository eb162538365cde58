/**
 * POST /retries naming a payment the service does not know is a 404 that names
 * `body.transaction_id` and what to send, as a refund's is (README "API": problem+json names the
 * field), whichever form of id was sent: txn_…, pi_… or ch_….
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";

Deno.test("retry of an unknown payment: 404 naming body.transaction_id, for txn_, pi_ and ch_ ids", async () => {
  await withRetryWorld(async (w) => {
    for (const id of ["txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", "pi_unknown123", "ch_unknown123"]) {
      const res = await w.retry({ transaction_id: id, payment_method: "pm_card_visa" });
      assert.equal(res.status, 404, id);
      assert.equal(res.body.code, "not_found");
      const errors = res.body.errors as { path: string; message: string }[] | undefined;
      assert.deepEqual(errors?.map((e) => e.path), ["body.transaction_id"], id);
      assert.match(errors![0].message, /txn_…, pi_… or ch_… id/);
    }
  });
});
