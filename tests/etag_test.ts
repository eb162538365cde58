import assert from "node:assert/strict";
import { type TestApp, withViewer } from "./helpers/app.ts";
import { authHeaders, type TestAdmin } from "./helpers/identity.ts";
import { paymentStory, T0 } from "./helpers/stripe_objects.ts";
import { etags, noneMatch, weakEtag } from "../routes/etag.ts";
import { Hono } from "hono";
import type { AppEnv } from "../routes/env.ts";

const BASE = "/api/admin/payments";

async function seedPayment(t: TestApp, customer: string, amount: number) {
  const story = paymentStory({ customer, amount });
  await t.services.stripeEvents.apply(story.created(T0));
  for (const e of story.succeeded(T0 + 1)) await t.services.stripeEvents.apply(e);
  return story;
}

function get(t: TestApp, admin: TestAdmin, path: string, etag?: string) {
  const headers: Record<string, string> = authHeaders(admin);
  if (etag) headers["if-none-match"] = etag;
  return t.app.request(BASE + path, { headers });
}

Deno.test("list: ETag on 200, 304 with no body for its tag, a new tag once the data changes", async () => {
  await withViewer(async (t, viewer) => {
    await seedPayment(t, "cus_EtagA", 1000);
    const first = await get(t, viewer, "/transactions?limit=10");
    assert.equal(first.status, 200);
    const tag = first.headers.get("etag");
    assert.match(tag ?? "", /^W\/"[0-9a-z]+-[0-9a-f]{16}"$/);
    assert.equal(first.headers.get("cache-control"), "private, no-cache");
    const body = await first.json();
    assert.equal(body.data.length, 1);

    const again = await get(t, viewer, "/transactions?limit=10", tag!);
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
    assert.equal(again.headers.get("etag"), tag);
    assert.equal(again.headers.get("cache-control"), "private, no-cache");
    assert.ok(again.headers.get("x-request-id"));

    // the same tag among others, or strong, still matches; another one does not
    assert.equal((await get(t, viewer, "/transactions?limit=10", `"x", ${tag}`)).status, 304);
    const stale = await get(t, viewer, "/transactions?limit=10", 'W/"1-0000000000000000"');
    assert.equal(stale.status, 200);
    await stale.body?.cancel();

    await seedPayment(t, "cus_EtagB", 2000);
    const changed = await get(t, viewer, "/transactions?limit=10", tag!);
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get("etag"), tag);
    assert.equal((await changed.json()).data.length, 2);
    // another filter's page is another document
    const filtered = await get(t, viewer, "/transactions?customer=cus_EtagB", tag!);
    assert.equal(filtered.status, 200);
    await filtered.body?.cancel();
  });
});

Deno.test("detail: 304 for its tag, 200 with a new tag after a change to the record", async () => {
  await withViewer(async (t, viewer) => {
    const story = await seedPayment(t, "cus_EtagC", 1500);
    const path = `/transactions/${story.pi}`;
    const first = await get(t, viewer, path);
    assert.equal(first.status, 200);
    const tag = first.headers.get("etag")!;
    assert.equal((await first.json()).amount, 1500);
    const again = await get(t, viewer, path, tag);
    assert.equal(again.status, 304);
    await again.body?.cancel();

    const refund = story.refund(T0 + 60, 500);
    await t.services.stripeEvents.apply(refund.created);
    await t.services.stripeEvents.apply(refund.chargeRefunded);
    const after = await get(t, viewer, path, tag);
    assert.equal(after.status, 200);
    assert.notEqual(after.headers.get("etag"), tag);
    assert.equal((await after.json()).amount_refunded, 500);
  });
});

Deno.test("no 304 without access: a wrong token is 401 even with a matching tag", async () => {
  await withViewer(async (t, viewer) => {
    await seedPayment(t, "cus_EtagD", 900);
    const tag = (await get(t, viewer, "/transactions")).headers.get("etag")!;
    const res = await t.app.request(BASE + "/transactions", {
      headers: { authorization: "Bearer pot_unknown0000000000000000", "if-none-match": tag },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("etag"), null);
    await res.body?.cancel();
  });
});

Deno.test("weakEtag and noneMatch", () => {
  assert.equal(weakEtag('{"a":1}'), weakEtag('{"a":1}'));
  assert.notEqual(weakEtag('{"a":1}'), weakEtag('{"a":2}'));
  assert.notEqual(weakEtag('{"a":12}'), weakEtag('{"a":21}'));
  const tag = weakEtag("x");
  assert.ok(noneMatch(tag, tag));
  assert.ok(noneMatch(tag.slice(2), tag));
  assert.ok(noneMatch("*", tag));
  assert.ok(!noneMatch(undefined, tag));
  assert.ok(!noneMatch(weakEtag("y"), tag));
});

Deno.test("etags(): a no-store answer keeps no-store and gets no tag; other statuses pass untouched", async () => {
  const app = new Hono<AppEnv>();
  app.use("*", etags());
  app.get("/secret", (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ token: "pot_x" }, 200);
  });
  app.get("/created", (c) => c.json({ ok: true }, 201));
  app.get("/text", (c) => c.text("hi"));
  const secret = await app.request("/secret");
  assert.equal(secret.status, 200);
  assert.equal(secret.headers.get("cache-control"), "no-store");
  assert.equal(secret.headers.get("etag"), null);
  assert.deepEqual(await secret.json(), { token: "pot_x" });
  const created = await app.request("/created");
  assert.equal(created.status, 201);
  assert.equal(created.headers.get("etag"), null);
  await created.body?.cancel();
  const text = await app.request("/text");
  assert.equal(text.headers.get("etag"), null);
  assert.equal(text.headers.get("cache-control"), "private, no-cache");
  assert.equal(await text.text(), "hi");
});

Deno.test("HEAD carries the GET's ETag and cache headers, and answers 304 for a held tag", async () => {
  await withViewer(async (t, viewer) => {
    await seedPayment(t, "cus_EtagHead", 1000);
    const got = await get(t, viewer, "/transactions?limit=10");
    const tag = got.headers.get("etag");
    await got.body?.cancel();
    const head = await t.app.request(`${BASE}/transactions?limit=10`, {
      method: "HEAD",
      headers: authHeaders(viewer),
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("etag"), tag);
    assert.equal(head.headers.get("cache-control"), "private, no-cache");
    assert.equal(await head.text(), "");
    const held = await t.app.request(`${BASE}/transactions?limit=10`, {
      method: "HEAD",
      headers: { ...authHeaders(viewer), "if-none-match": tag! },
    });
    assert.equal(held.status, 304);
  });
});
