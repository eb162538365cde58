/**
 * GET /customers/{id}/payment-methods is a list like every other (README
 * "API": `limit` 1–100, default 25, an opaque `cursor`, `{ data, next_cursor }`),
 * paged through Stripe's own `limit`/`starting_after`/`has_more`, so a
 * customer with more saved cards than one Stripe page still shows them all;
 * and `last_used` is when a retry last tried the card, declined or not
 * (README "Retrying failed payments").
 */
import assert from "node:assert/strict";
import { TEST_SIGNING_KEY } from "./helpers/app.ts";
import { CursorSealer } from "../kv/pagination.ts";
import { withRetryWorld } from "./helpers/retries.ts";

const pmsOf = (customer: string) => `/api/admin/payments/customers/${customer}/payment-methods`;

Deno.test("GET /customers/{id}/payment-methods: 130 saved cards, paged, every one once, newest first", async () => {
  await withRetryWorld(async (w) => {
    const customer = (await w.stripe.customers.create({ email: "many@example.com" })).id;
    const saved: string[] = [];
    for (let i = 0; i < 130; i++) {
      saved.push((await w.stripe.paymentMethods.attach("pm_card_visa", { customer })).id);
      if (i % 40 === 39) w.clock.advance(1000); // some in the same second, some not
    }
    const atStripe: string[] = [];
    for await (const pm of w.stripe.customers.listPaymentMethods(customer, { limit: 100 })) {
      atStripe.push(pm.id);
    }
    assert.equal(atStripe.length, 130);

    const first = await w.get(pmsOf(customer));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal((first.body.data as unknown[]).length, 25, "limit defaults to 25");
    assert.equal(typeof first.body.next_cursor, "string");

    for (const limit of [100, 7, 25, 1]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `limit=${limit}` +
          (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
        const page = await w.get(`${pmsOf(customer)}?${q}`);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        const data = page.body.data as { id: string; last4: string }[];
        assert.ok(data.length <= limit);
        assert.ok(data.every((pm) => pm.last4 === "4242"));
        seen.push(...data.map((pm) => pm.id));
        cursor = page.body.next_cursor as string | null;
        assert.ok(++pages <= 130, "paging ends");
      } while (cursor);
      assert.equal(new Set(seen).size, seen.length, `no duplicates (limit=${limit})`);
      assert.deepEqual(seen, atStripe, `all 130 in Stripe's order (limit=${limit})`);
      assert.equal(pages, Math.ceil(130 / limit), `no empty last page (limit=${limit})`);
    }
    assert.deepEqual(new Set(saved), new Set(atStripe));
    // 180 pages in all: above the 120 a token may ask for in a minute
  }, { env: { API_RATE_LIMIT_PER_MIN: "1000" } });
});

Deno.test("GET /customers/{id}/payment-methods: a bad limit, a forged, foreign or stale cursor is 422 naming the parameter", async () => {
  await withRetryWorld(async (w) => {
    const customer = (await w.stripe.customers.create({ email: "two@example.com" })).id;
    const other = (await w.stripe.customers.create({ email: "other@example.com" })).id;
    for (let i = 0; i < 3; i++) {
      await w.stripe.paymentMethods.attach("pm_card_visa", { customer });
      await w.stripe.paymentMethods.attach("pm_card_mastercard", { customer: other });
    }
    for (const [q, path] of [["limit=0", "query.limit"], ["limit=101", "query.limit"]]) {
      const res = await w.get(`${pmsOf(customer)}?${q}`);
      assert.equal(res.status, 422, q);
      assert.equal((res.body.errors as { path: string }[])[0].path, path, q);
    }
    const first = await w.get(`${pmsOf(customer)}?limit=1`);
    const sealed = String(first.body.next_cursor);
    const [body, mac] = sealed.split(".");
    const forged = `${body}.${mac.slice(0, -2)}${mac.endsWith("AA") ? "BB" : "AA"}`;
    // sealed with the service's key, but another listing's (the sweeps')
    const foreign = await new CursorSealer(TEST_SIGNING_KEY).seal("fraud_sweeps", "x");
    const otherFirst = await w.get(`${pmsOf(other)}?limit=1`);
    const othersCursor = String(otherFirst.body.next_cursor);
    for (const cursor of ["abc", forged, foreign, othersCursor]) {
      const res = await w.get(`${pmsOf(customer)}?limit=1&cursor=${encodeURIComponent(cursor)}`);
      assert.equal(res.status, 422, cursor);
      assert.equal(res.body.code, "validation_failed");
      assert.equal((res.body.errors as { path: string }[])[0].path, "query.cursor");
    }
    // the card the cursor continues after was detached meanwhile: start again, not "no customer"
    const last = (first.body.data as { id: string }[])[0].id;
    await w.stripe.paymentMethods.detach(last);
    const stale = await w.get(`${pmsOf(customer)}?limit=1&cursor=${encodeURIComponent(sealed)}`);
    assert.equal(stale.status, 422, JSON.stringify(stale.body));
    assert.equal((stale.body.errors as { path: string }[])[0].path, "query.cursor");
    assert.match(
      String(stale.body.errors && (stale.body.errors as { message: string }[])[0].message),
      /omit it/,
    );
  });
});

Deno.test("GET /customers/{id}/payment-methods: last_used is the last retry that tried the card, declined or not", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const declining = await w.stripe.paymentMethods.attach(
      "pm_card_chargeDeclinedInsufficientFunds",
      { customer: f.customer },
    );
    const untried = await w.stripe.paymentMethods.attach("pm_card_mastercard", {
      customer: f.customer,
    });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: declining.id });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, "failed");
    assert.equal(res.body.decline_code, "insufficient_funds");
    await w.deliver();

    const list = await w.get(pmsOf(f.customer));
    assert.equal(list.status, 200);
    const byId = new Map((list.body.data as { id: string; last_used: string | null }[])
      .map((pm) => [pm.id, pm]));
    assert.equal(byId.get(declining.id)?.last_used, res.body.settled_at, "tried and declined");
    assert.equal(byId.get(untried.id)?.last_used, null, "never tried");
  });
});

Deno.test("GET /customers/{id}/payment-methods: a retry Stripe refused before trying the card leaves last_used alone", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const card = await w.stripe.paymentMethods.attach("pm_card_visa", { customer: f.customer });
    w.emu.faults.inject({ method: "POST", path: /\/confirm$/, kind: "rate_limit", times: 3 });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: card.id });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    const list = await w.get(pmsOf(f.customer));
    const mine = (list.body.data as { id: string; last_used: string | null }[])
      .find((pm) => pm.id === card.id);
    assert.equal(mine?.last_used, null, "nothing reached the card");
  });
});

Deno.test("GET /customers/{id}/payment-methods: last_used is when the retry authorized the card, not when it was captured", async () => {
  await withRetryWorld(async (w) => {
    const customer = (await w.stripe.customers.create({ email: "hold@example.com" })).id;
    const f = await w.failedPayment(3000, "pm_card_chargeDeclined", customer, {
      captureMethod: "manual",
    });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_mastercard" });
    assert.equal(res.body.status, "requires_capture", JSON.stringify(res.body));
    await w.deliver();
    const lastUsed = async () =>
      ((await w.get(pmsOf(customer))).body.data as { id: string; last_used: string | null }[])
        .find((pm) => pm.id === res.body.payment_method)?.last_used;
    assert.equal(await lastUsed(), res.body.updated_at, "tried when authorized");
    w.clock.advance(60_000);
    await w.t.services.retries.capture(w.ctx(w.operator), f.txnId, {});
    await w.deliver();
    assert.equal(
      (await w.get(`/api/admin/payments/retries/${res.body.id}`)).body.status,
      "succeeded",
    );
    assert.equal(await lastUsed(), res.body.updated_at, "a capture tries no card");
  });
});
