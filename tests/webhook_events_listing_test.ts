import assert from "node:assert/strict";
import { type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { customerEvent, postEvent, testApplier, withWebhookApp } from "./helpers/webhooks.ts";
import { keys } from "../kv/keys.ts";

const BASE = "/api/admin/payments/webhook-events";

/** Posts `plan` in order ("ok" processed, "fail" failed once), a second apart; the ids. */
async function post(
  t: TestApp,
  applier: ReturnType<typeof testApplier>,
  plan: ["ok" | "fail", string][],
): Promise<string[]> {
  const ids: string[] = [];
  for (const [outcome, type] of plan) {
    applier.failNext(outcome === "fail" ? 1 : 0);
    const event = customerEvent(type);
    assert.equal((await postEvent(t.app, event, { clock: t.clock })).status, 200);
    await t.services.webhooks.drain();
    ids.push(event.id);
    t.clock.advance(1000);
  }
  return ids;
}

async function pages(
  t: TestApp,
  query: string,
  headers: Record<string, string>,
): Promise<string[][]> {
  const out: string[][] = [];
  let cursor: string | null = null;
  do {
    const url = `${BASE}?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await t.app.request(url, { headers });
    assert.equal(res.status, 200);
    const page = await res.json();
    out.push(page.data.map((e: { id: string }) => e.id));
    cursor = page.next_cursor;
  } while (cursor && out.length < 10);
  return out;
}

Deno.test("processed events are listed newest first and paged, passing over events of other statuses", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    const headers = authHeaders(admin);
    const [p1, p2, f1, p3, f2, f3, p4, p5] = await post(t, applier, [
      ["ok", "customer.created"],
      ["ok", "customer.updated"],
      ["fail", "customer.updated"],
      ["ok", "customer.created"],
      ["fail", "customer.created"],
      ["fail", "customer.updated"],
      ["ok", "customer.updated"],
      ["ok", "customer.created"],
    ]);
    assert.deepEqual(await pages(t, "status=processed&limit=2", headers), [
      [p5, p4],
      [p3, p2],
      [p1],
    ]);
    assert.deepEqual(await pages(t, "status=processed&type=customer.updated&limit=1", headers), [
      [p4],
      [p2],
    ]);
    assert.deepEqual(await pages(t, "status=failed&limit=2", headers), [[f3, f2], [f1]]);
    assert.deepEqual(await pages(t, "limit=5", headers), [[p5, p4, f3, f2, p3], [f1, p2, p1]]);
    const rows = [];
    for await (const e of t.kv.list({ prefix: keys.webhookEventsByStatusPrefix("processed") })) {
      rows.push(e.key);
    }
    assert.deepEqual(rows, [], "processed events are not in the status index");
  });
});

Deno.test("a cursor of one listing is refused by another, processed or not", async () => {
  await withWebhookApp(async (t, applier) => {
    const admin = await createAdmin(t, "admin");
    const headers = authHeaders(admin);
    await post(t, applier, [["ok", "customer.created"], ["ok", "customer.created"]]);
    const first = await (await t.app.request(`${BASE}?status=processed&limit=1`, { headers }))
      .json();
    assert.equal(typeof first.next_cursor, "string");
    for (const query of ["limit=1", "status=failed&limit=1", "status=processed&type=x&limit=1"]) {
      const res = await t.app.request(
        `${BASE}?${query}&cursor=${encodeURIComponent(first.next_cursor)}`,
        { headers },
      );
      assert.equal(res.status, 422, query);
      assert.equal((await res.json()).errors[0].path, "query.cursor");
    }
  });
});
