/**
 * A capture or cancel sent again (README, "Retrying failed payments",
 * Authorizations): the same request by the same admin answers what the first
 * did, with no Stripe call, nothing written and no denied entry; any other
 * (another admin, another amount, a cancel after a capture) is 409 naming who
 * did what and when ("you" to whoever did it). A burst of one capture by one
 * admin captures once and every answer is that capture.
 */
import assert from "node:assert/strict";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { auditEntries, jsonRequest, type TestAdmin } from "./helpers/identity.ts";

const TXNS = "/api/admin/payments/transactions";

async function authorized(w: RetryWorld, amount: number, email: string) {
  const { pi } = await authorizeAtStripe(w.stripe, amount, email);
  await w.deliver();
  return { pi, txnId: (await w.t.services.transactions.get(pi.id)).id };
}

async function post(w: RetryWorld, path: string, body: unknown, as?: TestAdmin) {
  const res = await w.t.app.request(path, jsonRequest("POST", await w.stepUp(as), body));
  return {
    status: res.status,
    replayed: res.headers.get("idempotent-replayed"),
    body: await res.json() as Record<string, unknown>,
  };
}

async function authorizationAudit(w: RetryWorld) {
  return (await auditEntries(w.t.kv)).filter((e) => e.action.startsWith("authorization."));
}

Deno.test("the same capture sent again by the same operator answers the capture: no Stripe call, nothing written", async () => {
  await withRetryWorld(async (w) => {
    const { pi, txnId } = await authorized(w, 5000, "again@example.com");
    const first = await post(w, `${TXNS}/${txnId}/capture`, { amount_to_capture: 3000 });
    assert.equal(first.status, 201);
    const audit = (await authorizationAudit(w)).length;
    const calls = w.emu.requests.total();

    const again = await post(w, `${TXNS}/${txnId}/capture`, { amount_to_capture: 3000 });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.replayed, "true");
    assert.deepEqual(again.body, first.body);
    assert.equal(w.emu.requests.total(), calls, "Stripe was not asked");
    assert.equal((await authorizationAudit(w)).length, audit, "nothing audited, not denied");

    // another amount, a cancel after the capture: 409 naming "you" and when
    const other = await post(w, `${TXNS}/${txnId}/capture`, { amount_to_capture: 2000 });
    assert.equal(other.status, 409);
    assert.match(
      String(other.body.detail),
      new RegExp(`by you \\(${w.operator.id}\\) at ${first.body.created_at}`),
    );
    const cancel = await post(w, `${TXNS}/${txnId}/cancel`, { reason: "abandoned", note: "x" });
    assert.equal(cancel.status, 409);
    assert.match(String(cancel.body.detail), /already sent a capture.*by you/);

    // another operator's same capture: 409 naming who and when
    const theirs = await post(
      w,
      `${TXNS}/${txnId}/capture`,
      { amount_to_capture: 3000 },
      w.operator2,
    );
    assert.equal(theirs.status, 409);
    assert.ok(
      String(theirs.body.detail).includes(`by ${w.operator.id} at ${first.body.created_at}`),
      String(theirs.body.detail),
    );
    const denied = (await authorizationAudit(w)).filter((e) => e.result === "denied");
    assert.equal(denied.length, 3, "the three refusals, not the second click");
    assert.equal((await w.stripe.paymentIntents.retrieve(pi.id)).amount_received, 3000);
  });
});

Deno.test("capturing all of it sent again (no amount, or the whole amount) answers the capture", async () => {
  await withRetryWorld(async (w) => {
    const { txnId } = await authorized(w, 4200, "all@example.com");
    const first = await post(w, `${TXNS}/${txnId}/capture`, {});
    assert.equal(first.status, 201);
    const again = await post(w, `${TXNS}/${txnId}/capture`, {});
    assert.equal(again.status, 201);
    assert.equal(again.body.id, first.body.id);
    const whole = await post(w, `${TXNS}/${txnId}/capture`, { amount_to_capture: 4200 });
    assert.equal(whole.status, 201);
    assert.equal(whole.body.id, first.body.id);
  });
});

Deno.test("the same cancel sent again by the same operator answers the cancel; another note or operator is 409", async () => {
  await withRetryWorld(async (w) => {
    const { txnId } = await authorized(w, 3000, "cancel-again@example.com");
    const body = { reason: "requested_by_customer", note: "customer called" };
    const first = await post(w, `${TXNS}/${txnId}/cancel`, body);
    assert.equal(first.status, 201);
    const audit = (await authorizationAudit(w)).length;
    const calls = w.emu.requests.total();
    const again = await post(w, `${TXNS}/${txnId}/cancel`, { ...body, note: " customer called " });
    assert.equal(again.status, 201);
    assert.equal(again.replayed, "true");
    assert.deepEqual(again.body, first.body);
    assert.equal(w.emu.requests.total(), calls);
    assert.equal((await authorizationAudit(w)).length, audit);

    const note = await post(w, `${TXNS}/${txnId}/cancel`, { ...body, note: "something else" });
    assert.equal(note.status, 409);
    const capture = await post(w, `${TXNS}/${txnId}/capture`, {});
    assert.equal(capture.status, 409);
    assert.match(String(capture.body.detail), /already sent a cancel.*by you/);
    const theirs = await post(w, `${TXNS}/${txnId}/cancel`, body, w.operator2);
    assert.equal(theirs.status, 409);
    assert.ok(String(theirs.body.detail).includes(`by ${w.operator.id} at`));
  });
});

Deno.test("a burst of one capture by one operator: one Stripe capture, every answer that capture", async () => {
  await withRetryWorld(async (w) => {
    const { pi, txnId } = await authorized(w, 6000, "burst@example.com");
    const headers = await w.stepUp();
    const other = await w.isolate();
    // the first capture is still at Stripe while the others arrive
    w.emu.faults.inject({ method: "POST", path: /\/capture$/, kind: "latency", ms: 300 });
    const calls = w.emu.requests.total();
    const send = (app: typeof w.t.app) =>
      app.request(
        `${TXNS}/${txnId}/capture`,
        jsonRequest("POST", headers, { amount_to_capture: 2500 }),
      );
    const answers = await Promise.all(
      [w.t.app, other.t.app, w.t.app, other.t.app, w.t.app].map(send),
    );
    const bodies = await Promise.all(answers.map((r) => r.json()));
    assert.deepEqual(
      answers.map((r) => r.status),
      [201, 201, 201, 201, 201],
      JSON.stringify(bodies),
    );
    assert.equal(new Set(bodies.map((b) => b.id)).size, 1, "one capture");
    for (const b of bodies) assert.equal(b.status, "succeeded");
    assert.equal(w.emu.requests.total() - calls, 1, "one Stripe call");
    const entries = await authorizationAudit(w);
    assert.deepEqual(
      entries.filter((e) => e.action === "authorization.capture").map((e) => e.result),
      ["ok"],
    );
    assert.equal((await w.stripe.paymentIntents.retrieve(pi.id)).amount_received, 2500);
  }, { file: true });
});

Deno.test("a burst of one capture Stripe refuses for now: one Stripe capture call, every answer the 503", async () => {
  await withRetryWorld(async (w) => {
    const { pi, txnId } = await authorized(w, 6000, "burst-busy@example.com");
    const headers = await w.stepUp();
    const path = new RegExp(`/payment_intents/${pi.id}/capture$`);
    w.emu.faults.inject({ method: "POST", path, kind: "rate_limit", times: 3 });
    const calls = w.emu.requests.total();
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        w.t.app.request(
          `${TXNS}/${txnId}/capture`,
          jsonRequest("POST", headers, { amount_to_capture: 2500 }),
        )),
    );
    const bodies = await Promise.all(answers.map((r) => r.json()));
    assert.deepEqual(answers.map((r) => r.status), [503, 503, 503, 503], JSON.stringify(bodies));
    assert.equal(new Set(bodies.map((b) => b.action_id)).size, 1, "one action");
    assert.equal(w.emu.requests.total() - calls, 3, "the first's call (the gateway's 3 tries)");
    assert.equal((await w.stripe.paymentIntents.retrieve(pi.id)).status, "requires_capture");
    // the payment is free: the same capture now acts
    const then = await post(w, `${TXNS}/${txnId}/capture`, { amount_to_capture: 2500 });
    assert.equal(then.status, 201);
  });
});
