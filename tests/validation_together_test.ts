/**
 * One 422 names every field at fault (README, "API": `validation_failed` lists each bad field in
 * `errors[]`): an unknown field or parameter does not hide the route's own field errors, and a
 * single-valued query parameter given twice is told so, not as a wrong type.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, jsonRequest, type TestAdmin } from "./helpers/identity.ts";
import { z } from "@hono/zod-openapi";
import { knownNames } from "../routes/unknown_fields.ts";
import { LimitQuery } from "../openapi/schemas.ts";

const TXN = "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";

type FieldError = { path: string; message: string };

async function problem(res: Response): Promise<{ code: string; errors: FieldError[] }> {
  assert.equal(res.status, 422, await res.clone().text());
  return await res.json();
}

const paths = (errors: FieldError[]) => errors.map((e) => e.path);

function get(t: TestApp, admin: TestAdmin, path: string) {
  return t.app.request(path, { headers: authHeaders(admin) });
}

Deno.test("a refund with an unknown field and bad fields is one 422 naming all of them, the unknown one once", async () => {
  await withTestApp(async (t) => {
    const operator = await createAdmin(t, "operator");
    const send = (body: unknown) =>
      t.app.request(
        "/api/admin/payments/refunds",
        jsonRequest("POST", authHeaders(operator), body),
      );
    const bad = { transaction_id: TXN, amount: -5, reason: "nope", note: "" };
    const without = await problem(await send(bad));
    const own = paths(without.errors);
    assert.deepEqual(own.toSorted(), ["body.amount", "body.note", "body.reason"]);

    const withExtra = await problem(await send({ ...bad, extra: 1 }));
    assert.equal(withExtra.code, "validation_failed");
    // the unknown field first, then the same errors as without it; `extra` named once although
    // the body's schema refuses it too
    assert.deepEqual(paths(withExtra.errors), ["body.extra", ...own]);
    assert.match(withExtra.errors[0].message, /extra is not a known field/);
    assert.deepEqual(withExtra.errors.slice(1), without.errors);
  });
});

Deno.test("a listing with an unknown parameter and a bad one is one 422 naming both", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const res = await get(t, viewer, "/api/admin/payments/transactions?stauts=failed&limit=500");
    const body = await problem(res);
    assert.deepEqual(paths(body.errors), ["query.stauts", "query.limit"]);
    assert.match(body.errors[0].message, /did you mean status\?/);
    assert.match(body.errors[1].message, /limit must be between 1 and 100/);
  });
});

Deno.test("POST /enroll: an unknown field and an empty code are named together", async () => {
  await withTestApp(async (t) => {
    const res = await t.app.request(
      "/api/admin/enroll",
      jsonRequest("POST", {}, { code: "", extra: 1 }),
    );
    const body = await problem(res);
    assert.deepEqual(paths(body.errors), ["body.extra", "body.code"]);
    assert.match(body.errors[1].message, /send the enrollment code/);
  });
});

Deno.test("a single-valued query parameter given twice is 422 saying so, on every kind of route", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const twice = await problem(
      await get(t, admin, "/api/admin/payments/transactions?limit=10&limit=20"),
    );
    assert.deepEqual(twice.errors, [
      { path: "query.limit", message: "limit is given 2 times; give it once" },
    ]);
    // a string filter is no different, and the other parameters are still checked
    const filters = await problem(
      await get(
        t,
        admin,
        "/api/admin/payments/disputes?status=lost&status=won&status=lost&limit=0",
      ),
    );
    assert.deepEqual(filters.errors.map((e) => e.path), ["query.status", "query.limit"]);
    assert.equal(filters.errors[0].message, "status is given 3 times; give it once");
    // a route with a path and a query, checked before its second factor is asked for
    const replay = await problem(
      await t.app.request(
        "/api/admin/payments/webhook-events/evt_1Example000000000000000/replay?force=true&force=true",
        { method: "POST", headers: authHeaders(admin) },
      ),
    );
    assert.deepEqual(replay.errors, [
      { path: "query.force", message: "force is given 2 times; give it once" },
    ]);
    // given once, each is fine
    const once = await get(t, admin, "/api/admin/payments/transactions?limit=10&status=failed");
    assert.equal(once.status, 200, await once.clone().text());
    await once.body?.cancel();
  });
});

Deno.test("a query parameter that takes a list may be given more than once; one that takes a value may not", () => {
  const known = knownNames({
    query: z.object({
      tag: z.array(z.string()).optional(),
      status: z.enum(["a", "b"]).optional(),
      limit: LimitQuery,
    }),
  });
  assert.deepEqual([...known.lists], ["tag"]);
  assert.deepEqual([...known.query], ["tag", "status", "limit"]);
});
