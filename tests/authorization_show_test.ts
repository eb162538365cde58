/**
 * GET /authorizations/{id}: a capture or cancel answered `202 processing`
 * (its `aut_…` id, also in the answer's `Location`) can be read back until it
 * settles, with an `ETag` like every admin read (README "Caching and ETags"),
 * by the roles that read payments and retries; an unknown id is 404 naming it.
 */
import assert from "node:assert/strict";
import { authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";

const P = "/api/admin/payments";

async function authorized(w: RetryWorld, amount: number) {
  const { pi } = await authorizeAtStripe(w.stripe, amount, "hold@example.com");
  await w.deliver();
  return (await w.t.services.transactions.get(pi.id)).id;
}

async function post(w: RetryWorld, path: string, body: unknown) {
  const res = await w.t.app.request(path, jsonRequest("POST", await w.stepUp(), body));
  return { res, body: await res.json() as Record<string, unknown> };
}

Deno.test("a capture answered 202 processing is read back by its aut_ id until reconciliation settles it", async () => {
  await withRetryWorld(async (w) => {
    const txnId = await authorized(w, 5000);
    const viewer = await createAdmin(w.t, "viewer");
    w.emu.faults.inject({ method: "POST", path: /\/capture$/, kind: "act_then_drop" });
    const sent = await post(w, `${P}/transactions/${txnId}/capture`, { amount_to_capture: 1000 });
    assert.equal(sent.res.status, 202);
    const id = String(sent.body.id);
    assert.match(id, /^aut_[0-9A-Z]{26}$/);
    assert.equal(sent.res.headers.get("location"), `${P}/authorizations/${id}`);

    const first = await w.t.app.request(`${P}/authorizations/${id}`, {
      headers: authHeaders(viewer),
    });
    assert.equal(first.status, 200);
    assert.match(first.headers.get("content-type") ?? "", /^application\/json/);
    const shown = await first.json();
    assert.deepEqual(shown, sent.body, "the same view the 202 carried");
    assert.equal(shown.status, "processing");
    assert.equal("job" in shown, false, "internals stay hidden");
    const tag = first.headers.get("etag");
    assert.match(tag ?? "", /^W\/"/);
    assert.equal(first.headers.get("cache-control"), "private, no-cache");

    const unchanged = await w.t.app.request(`${P}/authorizations/${id}`, {
      headers: { ...authHeaders(viewer), "if-none-match": tag! },
    });
    assert.equal(unchanged.status, 304);
    assert.equal(await unchanged.text(), "");

    await w.dropHeld();
    w.clock.advance(61_000);
    await w.runAllJobs();
    const settled = await w.t.app.request(`${P}/authorizations/${id}`, {
      headers: { ...authHeaders(viewer), "if-none-match": tag! },
    });
    assert.equal(settled.status, 200, "changed since: the new state, not 304");
    const body = await settled.json();
    assert.equal(body.status, "succeeded");
    assert.equal(body.amount_to_capture, 1000);
    assert.notEqual(settled.headers.get("etag"), tag);
  });
});

Deno.test("a cancel Stripe answered is read back by its id too; 201 carries Location as well", async () => {
  await withRetryWorld(async (w) => {
    const txnId = await authorized(w, 4000);
    const sent = await post(w, `${P}/transactions/${txnId}/cancel`, {
      reason: "requested_by_customer",
      note: "customer called to cancel the order",
    });
    assert.equal(sent.res.status, 201);
    const id = String(sent.body.id);
    assert.equal(sent.res.headers.get("location"), `${P}/authorizations/${id}`);
    const read = await w.get(`${P}/authorizations/${id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, sent.body);
    assert.equal(read.body.kind, "cancel");
    assert.equal(read.body.status, "succeeded");
  });
});

Deno.test("GET /authorizations/{id}: an unknown id is 404 naming it, a malformed one 422 naming path.id, no token 401", async () => {
  await withRetryWorld(async (w) => {
    const viewer = await createAdmin(w.t, "viewer");
    const unknown = "aut_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";
    const missing = await w.t.app.request(`${P}/authorizations/${unknown}`, {
      headers: authHeaders(viewer),
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("content-type"), "application/problem+json");
    const problem = await missing.json();
    assert.equal(problem.code, "not_found");
    assert.match(problem.detail, new RegExp(unknown));

    const bad = await w.get(`${P}/authorizations/txn_nope`, viewer);
    assert.equal(bad.status, 422);
    assert.equal((bad.body.errors as { path: string }[])[0].path, "path.id");
    assert.match(String((bad.body.errors as { message: string }[])[0].message), /aut_/);

    const anon = await w.t.app.request(`${P}/authorizations/${unknown}`);
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
  });
});
