/**
 * `If-Match` on the routes that change something (README "Inputs and headers", RFC 9110
 * 13.1.1): honoured where the record has a tag a write can be checked against (a fraud
 * alert's, the `ETag` of `GET /fraud/alerts/{id}`, compared in the write's own checked
 * commit; the evidence draft's, dispute_evidence_if_match_test.ts), and refused (`422` on
 * `header.if-match`) on every other unsafe route, rather than ignored: a client that asks
 * "only if it is still what I read" must never get a silent overwrite.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { oneAlert } from "./helpers/fraud.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, disputedPayment } from "./helpers/disputes.ts";
import type { Role } from "../domain/permissions.ts";

const ALERTS = "/api/admin/payments/fraud/alerts";

function patchAlert(t: TestApp, admin: TestAdmin, id: string, body: unknown, ifMatch?: string) {
  const headers = { ...authHeaders(admin), ...(ifMatch ? { "if-match": ifMatch } : {}) };
  return t.app.request(`${ALERTS}/${id}`, jsonRequest("PATCH", headers, body));
}

async function readAlert(t: TestApp, admin: TestAdmin, id: string) {
  const res = await t.app.request(`${ALERTS}/${id}`, { headers: authHeaders(admin) });
  assert.equal(res.status, 200);
  return { etag: res.headers.get("etag")!, alert: await res.json() };
}

const updates = async (t: TestApp) =>
  (await auditEntries(t.kv)).filter((e) => e.action === "fraud_alert.update").length;

Deno.test("PATCH /fraud/alerts/{id} with a stale If-Match is 412 naming the alert's tag; nothing written", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_stale");
    const before = await readAlert(t, analyst, id);
    const res = await patchAlert(t, analyst, id, { status: "investigating" }, '"definitely-stale"');
    assert.equal(res.status, 412);
    const body = await res.json();
    assert.equal(body.code, "precondition_failed");
    assert.match(body.detail, new RegExp(before.etag.replaceAll('"', '\\"')));
    assert.equal(body.etag, before.etag);
    const after = await readAlert(t, analyst, id);
    assert.equal(after.alert.status, "open");
    assert.equal(after.etag, before.etag);
    assert.equal(await updates(t), 0);
  });
});

Deno.test("PATCH /fraud/alerts/{id} with the GET's ETag moves it and answers the new tag; the old tag is then 412", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const other = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_fresh");
    const read = await readAlert(t, analyst, id);
    assert.match(read.etag, /^"[^"]+"$/, "a strong tag: If-Match compares strongly");
    const res = await patchAlert(t, analyst, id, { status: "investigating" }, read.etag);
    assert.equal(res.status, 200);
    const now = await readAlert(t, analyst, id);
    assert.equal(now.alert.status, "investigating");
    assert.notEqual(now.etag, read.etag);
    assert.equal(res.headers.get("etag"), now.etag, "the PATCH answers the alert's new tag");
    // someone working from the first read: their change would go over this one
    const late = await patchAlert(t, other, id, { assignee: "me" }, read.etag);
    assert.equal(late.status, 412);
    const problem = await late.json();
    assert.match(problem.detail, new RegExp(analyst.id));
    assert.equal((await readAlert(t, analyst, id)).alert.assignee, null);
    // the GET's tag marked weak never matches (RFC 9110 13.1.1 compares strongly): told so
    const weak = await patchAlert(t, other, id, { assignee: "me" }, `W/${now.etag}`);
    assert.equal(weak.status, 412);
    assert.match((await weak.json()).detail, /weak/);
    // `*`: any current alert
    const any = await patchAlert(t, other, id, { assignee: "me" }, "*");
    assert.equal(any.status, 200);
    assert.equal((await readAlert(t, analyst, id)).alert.assignee, other.id);
  });
});

Deno.test("PATCH /fraud/alerts/{id}: the same move sent again with the tag it was made from answers the alert (a second click)", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_again");
    const read = await readAlert(t, analyst, id);
    const first = await patchAlert(t, analyst, id, { status: "investigating" }, read.etag);
    assert.equal(first.status, 200);
    const again = await patchAlert(t, analyst, id, { status: "investigating" }, read.etag);
    assert.equal(again.status, 200, "RFC 9110 13.1.1: the change has already succeeded");
    assert.equal(again.headers.get("etag"), first.headers.get("etag"));
    assert.equal(await updates(t), 1);
  });
});

Deno.test("PATCH /fraud/alerts/{id}: racing changes from one read, exactly one lands (compared in the commit)", async () => {
  await withTestApp(async (t) => {
    const analysts = await Promise.all([1, 2, 3, 4, 5].map(() => createAdmin(t, "analyst")));
    const id = await oneAlert(t, "cus_race");
    const read = await readAlert(t, analysts[0], id);
    const answers = await Promise.all(
      analysts.map((a) => patchAlert(t, a, id, { assignee: "me" }, read.etag)),
    );
    const statuses = answers.map((r) => r.status).sort();
    await Promise.all(answers.map((r) => r.body?.cancel()));
    assert.deepEqual(statuses, [200, 412, 412, 412, 412]);
    assert.equal(await updates(t), 1);
  });
});

Deno.test("PATCH /fraud/alerts/{id}: an If-Match that is no entity tag is 422 on the header; an unknown alert stays 404", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_bare");
    const read = await readAlert(t, analyst, id);
    const bare = read.etag.replaceAll('"', "");
    const res = await patchAlert(t, analyst, id, { status: "investigating" }, bare);
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.deepEqual(body.errors.map((e: { path: string }) => e.path), ["header.if-match"]);
    assert.match(body.errors[0].message, /double quotes/);
    const unknown = `${id.slice(0, -4)}ZZZZ`;
    const missing = await patchAlert(t, analyst, unknown, { status: "investigating" }, "*");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    assert.equal(await updates(t), 0);
  });
});

Deno.test("PATCH /disputes/{id} refuses If-Match (422 on header.if-match saying what to do); the dispute is not assigned", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const res = await w.t.app.request(
      `${API}/disputes/${dispute.id}`,
      jsonRequest(
        "PATCH",
        { ...authHeaders(support), "if-match": '"definitely-stale"' },
        { assignee: "me" },
      ),
    );
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.deepEqual(body.errors.map((e: { path: string }) => e.path), ["header.if-match"]);
    assert.match(body.errors[0].message, /PATCH \/disputes\/\{id\} takes no If-Match/);
    assert.match(body.errors[0].message, /without If-Match/);
    assert.equal((await w.t.services.disputes.get(dispute.id)).assignee, null);
  });
});

type Operation = { parameters?: { name: string; in: string }[]; "x-roles"?: Role[] };

Deno.test("every other route that changes something refuses If-Match, and the OpenAPI document says so", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const admins = new Map<Role, TestAdmin>();
    const checked: string[] = [];
    for (
      const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)
    ) {
      for (const [method, op] of Object.entries(ops)) {
        if (!["post", "put", "patch", "delete"].includes(method)) continue;
        if (path === "/api/webhooks/stripe") continue; // Stripe's deliveries: no client sends it
        const param = op.parameters?.find((p) => p.in === "header" && p.name === "if-match") as
          | { description?: string }
          | undefined;
        assert.ok(param, `${method} ${path} declares If-Match`);
        const honoured = [
          "/api/admin/payments/fraud/alerts/{id}",
          "/api/admin/payments/disputes/{id}/evidence",
          "/api/admin/payments/disputes/{id}/files",
        ].includes(path);
        if (honoured) continue;
        assert.match(param.description ?? "", /not taken here/, `${method} ${path}`);
        const role = op["x-roles"]?.includes("admin") ? "admin" : op["x-roles"]?.[0];
        const headers: Record<string, string> = { "if-match": "*" };
        if (role) {
          if (!admins.has(role)) admins.set(role, await createAdmin(t, role));
          Object.assign(headers, authHeaders(admins.get(role)!));
        }
        const url = path.replace(/\{[^}]+\}/g, "x");
        const res = await t.app.request(url, jsonRequest(method.toUpperCase(), headers, {}));
        const body = await res.json();
        assert.equal(res.status, 422, `${method} ${path}: ${JSON.stringify(body)}`);
        const told = body.errors.find((e: { path: string }) => e.path === "header.if-match");
        assert.ok(told, `${method} ${path}: ${JSON.stringify(body.errors)}`);
        assert.match(told.message, /takes no If-Match/);
        checked.push(`${method} ${path}`);
      }
    }
    assert.ok(checked.length >= 25, `checked ${checked.length}`);
  });
});
