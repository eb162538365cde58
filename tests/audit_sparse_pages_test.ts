/**
 * A filtered audit-log page reads at most 2,000 rows (README, "A first session, in curl": the
 * audit log): where matches are sparse a page can come back empty with a `next_cursor` while
 * entries remain further back. Following `next_cursor` until it is `null` finds them all, and
 * the README and the OpenAPI document (`AuditEntryPage`) say so.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { adminContext, authHeaders, createAdmin } from "./helpers/identity.ts";

Deno.test("audit log: a sparse filter's page may be empty with a next_cursor; following it to null finds every match", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    // the three matches are the oldest of the admin's 2,300 entries: the newest 2,000 hold none
    await Promise.all(
      Array.from({ length: 2300 }, (_, i) =>
        t.services.audit.record(adminContext(admin), {
          action: i < 3 ? "refund.reject" : "refund.create",
          target: null,
          result: "ok",
        })),
    );
    const base = `/api/admin/payments/audit-log?actor=${admin.id}&action=refund.reject&limit=10`;
    const pages: { data: { action: string }[]; next_cursor: string | null }[] = [];
    let url = base;
    for (let i = 0; i < 10; i++) {
      const res = await t.app.request(url, { headers: authHeaders(admin) });
      assert.equal(res.status, 200);
      const page = await res.json();
      pages.push(page);
      if (page.next_cursor === null) break;
      url = `${base}&cursor=${encodeURIComponent(page.next_cursor)}`;
    }
    assert.deepEqual(pages[0].data, [], "the first page is empty");
    assert.equal(typeof pages[0].next_cursor, "string", "yet more exist");
    assert.equal(pages.at(-1)!.next_cursor, null);
    const found = pages.flatMap((p) => p.data);
    assert.equal(found.length, 3);
    assert.ok(found.every((e) => e.action === "refund.reject"));
  });
});

Deno.test("audit log: the README and AuditEntryPage say a page may be empty while more exist", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const page = doc.components.schemas.AuditEntryPage;
    assert.match(page.description, /may be empty/);
    assert.match(page.description, /next_cursor/);
    assert.match(page.properties.next_cursor.description, /null/);
  });
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.match(
    readme.replace(/\s+/g, " "),
    /a page may come back with fewer entries than `limit`, even none/,
  );
});
