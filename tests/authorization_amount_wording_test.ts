/**
 * A capture of more than was authorized names the field and the limit in the currency's
 * own terms, as a refund's amount does (README "Inputs and headers": problem+json names the
 * field and what to send): "5000 usd" read as five thousand dollars.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";

Deno.test("capture over the authorization: the message shows the limit as money and the fix", async () => {
  await withRetryWorld(async (w) => {
    const { pi } = await authorizeAtStripe(w.stripe, 5000, "wording@example.com");
    await w.deliver();
    const txnId = (await w.t.services.transactions.get(pi.id)).id;
    const res = await w.t.app.request(
      `/api/admin/payments/transactions/${txnId}/capture`,
      jsonRequest("POST", await w.stepUp(), { amount_to_capture: 9000 }),
    );
    assert.equal(res.status, 422);
    const body = await res.json() as { errors: { path: string; message: string }[] };
    assert.equal(body.errors[0].path, "body.amount_to_capture");
    const message = body.errors[0].message;
    assert.match(message, /at most the authorized 5000 \(50\.00 USD\)/);
    assert.doesNotMatch(message, /5000 usd/);
    assert.match(message, /omit amount_to_capture to capture all of it/);
  });
});

Deno.test("a second capture or cancel: the 409 says where the first one is followed", async () => {
  await withRetryWorld(async (w) => {
    const { pi } = await authorizeAtStripe(w.stripe, 5000, "second-click@example.com");
    await w.deliver();
    const txnId = (await w.t.services.transactions.get(pi.id)).id;
    const path = `/api/admin/payments/transactions/${txnId}`;
    const first = await w.t.app.request(
      `${path}/capture`,
      jsonRequest("POST", await w.stepUp(), {}),
    );
    assert.equal(first.status, 201);
    const location = first.headers.get("location");
    assert.ok(location);
    await first.body?.cancel();
    const again = await w.t.app.request(
      `${path}/cancel`,
      jsonRequest("POST", await w.stepUp(), { reason: "duplicate", note: "second click" }),
    );
    assert.equal(again.status, 409);
    const detail = String((await again.json() as { detail: string }).detail);
    assert.match(detail, /already sent a capture/);
    assert.ok(detail.includes(location), `${detail} names ${location}`);
    assert.doesNotMatch(detail, /finished once/);
  });
});
