import assert from "node:assert/strict";
import { type TestApp, withViewer } from "./helpers/app.ts";
import { authHeaders, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { chargeObject, customerObject, paymentStory } from "./helpers/stripe_objects.ts";
import { stripeEvent, T0 } from "./helpers/stripe_objects.ts";

const BASE = "/api/admin/payments";

/** Two customers: A with three payments an hour apart (one declined), B with one. */
async function seed(t: TestApp) {
  const stories = [];
  for (let i = 0; i < 3; i++) {
    const story = paymentStory({ customer: "cus_RouteA", amount: 1000 + i });
    const at = T0 - (3 - i) * 3600;
    await t.services.stripeEvents.apply(story.created(at));
    const events = i === 1 ? story.failed(at + 1) : story.succeeded(at + 1);
    for (const e of events) await t.services.stripeEvents.apply(e);
    stories.push(story);
  }
  const b = chargeObject({ customer: "cus_RouteB", amount: 777, created: T0 });
  await t.services.stripeEvents.apply(stripeEvent("charge.succeeded", b, T0));
  return { stories, legacyCharge: b.id };
}

async function getJson(t: TestApp, admin: TestAdmin, path: string) {
  const res = await t.app.request(BASE + path, { headers: authHeaders(admin) });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
}

Deno.test("GET /transactions lists newest first and filters by customer, status and time", async () => {
  await withViewer(async (t, viewer) => {
    await seed(t);
    const all = await getJson(t, viewer, "/transactions");
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.data.map((x: { amount: number }) => x.amount), [
      777,
      1002,
      1001,
      1000,
    ]);
    assert.equal(all.body.next_cursor, null);

    const a = await getJson(t, viewer, "/transactions?customer=cus_RouteA");
    assert.deepEqual(a.body.data.map((x: { amount: number }) => x.amount), [1002, 1001, 1000]);

    const failed = await getJson(t, viewer, "/transactions?status=failed");
    assert.deepEqual(failed.body.data.map((x: { amount: number }) => x.amount), [1001]);
    assert.equal(failed.body.data[0].decline_code, "generic_decline");

    const aOk = await getJson(t, viewer, "/transactions?customer=cus_RouteA&status=succeeded");
    assert.deepEqual(aOk.body.data.map((x: { amount: number }) => x.amount), [1002, 1000]);

    const from = new Date((T0 - 2 * 3600) * 1000).toISOString();
    const to = new Date(T0 * 1000).toISOString();
    const window = await getJson(t, viewer, `/transactions?from=${from}&to=${to}`);
    assert.deepEqual(window.body.data.map((x: { amount: number }) => x.amount), [1002, 1001]);
  });
});

Deno.test("GET /transactions pages with a sealed cursor bound to its filters", async () => {
  await withViewer(async (t, viewer) => {
    await seed(t);
    const first = await getJson(t, viewer, "/transactions?limit=3");
    assert.equal(first.body.data.length, 3);
    assert.ok(first.body.next_cursor);
    const cursor = encodeURIComponent(first.body.next_cursor);
    const second = await getJson(t, viewer, `/transactions?limit=3&cursor=${cursor}`);
    assert.deepEqual(second.body.data.map((x: { amount: number }) => x.amount), [1000]);
    assert.equal(second.body.next_cursor, null);
    const foreign = await getJson(t, viewer, `/transactions?status=failed&cursor=${cursor}`);
    assert.equal(foreign.status, 422);
    assert.equal(foreign.body.errors[0].path, "query.cursor");
  });
});

Deno.test("GET /transactions refuses bad filters with the field named", async () => {
  await withViewer(async (t, viewer) => {
    const bad = await getJson(t, viewer, "/transactions?status=paid&limit=0&from=yesterday");
    assert.equal(bad.status, 422);
    assert.equal(bad.type, "application/problem+json");
    const paths = bad.body.errors.map((e: { path: string }) => e.path).sort();
    assert.deepEqual(paths, ["query.from", "query.limit", "query.status"]);
    const reversed = await getJson(
      t,
      viewer,
      "/transactions?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    );
    assert.equal(reversed.status, 422);
    assert.equal(reversed.body.errors[0].path, "query.to");
  });
});

Deno.test("GET /transactions/{id} accepts the txn id, the PaymentIntent id or the Charge id", async () => {
  await withViewer(async (t, viewer) => {
    const { stories, legacyCharge } = await seed(t);
    const byPi = await getJson(t, viewer, `/transactions/${stories[0].pi}`);
    assert.equal(byPi.status, 200);
    assert.equal(byPi.body.stripe_payment_intent, stories[0].pi);
    const byTxn = await getJson(t, viewer, `/transactions/${byPi.body.id}`);
    assert.deepEqual(byTxn.body, byPi.body);
    const byCh = await getJson(t, viewer, `/transactions/${stories[0].ch}`);
    assert.equal(byCh.body.id, byPi.body.id);
    const legacy = await getJson(t, viewer, `/transactions/${legacyCharge}`);
    assert.equal(legacy.body.stripe_payment_intent, null);
    assert.equal(legacy.body.amount, 777);
    const missing = await getJson(t, viewer, "/transactions/pi_doesNotExist");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "not_found");
    const bad = await getJson(t, viewer, "/transactions/re_123");
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].path, "path.id");
  });
});

Deno.test("transactions and customers need a viewer-or-above token", async () => {
  await withViewer(async (t) => {
    const anonymous = await t.app.request(`${BASE}/transactions`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const auditor = await createAdmin(t, "auditor");
    const denied = await getJson(t, auditor, "/transactions");
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, "forbidden");
    const deniedCustomer = await getJson(t, auditor, "/customers/cus_RouteA");
    assert.equal(deniedCustomer.status, 403);
  });
});

Deno.test("GET /customers/{id} shows the masked customer, balance, ledger and aggregates", async () => {
  await withViewer(async (t, viewer) => {
    const cus = customerObject({ id: "cus_RouteA", email: "alice@example.com" });
    await t.services.stripeEvents.apply(stripeEvent("customer.created", cus, T0 - 4 * 3600));
    await seed(t);
    const res = await getJson(t, viewer, "/customers/cus_RouteA?limit=1");
    assert.equal(res.status, 200);
    assert.equal(res.body.customer.email, "a***@example.com");
    assert.deepEqual(res.body.balances, [{ currency: "usd", amount: 2002, entries: 2 }]);
    assert.equal(res.body.ledger.data.length, 1);
    assert.ok(res.body.ledger.next_cursor);
    assert.equal(res.body.aggregates.totals.payments, 2);
    assert.equal(res.body.aggregates.totals.failures, 1);
    assert.deepEqual(res.body.open_alerts, []);
    const missing = await getJson(t, viewer, "/customers/cus_Nobody");
    assert.equal(missing.status, 404);
  });
});

Deno.test("GET /transactions?customer&status pages through one customer's payments in that status", async () => {
  await withViewer(async (t, viewer) => {
    // 14 payments for A, every third declined, with B's payments in between
    const expected: number[] = [];
    for (let i = 0; i < 14; i++) {
      const at = T0 - (14 - i) * 600;
      for (
        const [customer, amount] of [["cus_PageA", 2000 + i], ["cus_PageB", 3000 + i]] as const
      ) {
        const story = paymentStory({ customer, amount });
        await t.services.stripeEvents.apply(story.created(at));
        const declined = i % 3 === 0;
        for (const e of declined ? story.failed(at + 1) : story.succeeded(at + 1)) {
          await t.services.stripeEvents.apply(e);
        }
        if (customer === "cus_PageA" && declined) expected.unshift(amount);
      }
    }
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const page = await getJson(
        t,
        viewer,
        `/transactions?customer=cus_PageA&status=failed&limit=2${q}`,
      );
      assert.equal(page.status, 200);
      for (const x of page.body.data) {
        assert.equal(x.customer, "cus_PageA");
        assert.equal(x.status, "failed");
        seen.push(x.amount);
      }
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    assert.deepEqual(seen, expected);
    assert.equal(pages, 3, "5 matches at 2 a page: the last page says there is no next one");

    const from = new Date((T0 - 8 * 600) * 1000).toISOString();
    const window = await getJson(
      t,
      viewer,
      `/transactions?customer=cus_PageA&status=succeeded&from=${from}`,
    );
    assert.deepEqual(window.body.data.map((x: { amount: number }) => x.amount), [
      2013,
      2011,
      2010,
      2008,
      2007,
    ]);
  });
});
