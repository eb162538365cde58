/**
 * "Who" filters on the finance lists (README "API": lists): `requested_by` on refunds and
 * `actor` on the audit log and its export take `me` for the caller's own, and refuse an
 * email or a name with 422 naming the field, rather than answering an empty page; a cursor
 * sent with other filters than the page that gave it says so.
 */
import assert from "node:assert/strict";
import { splitExport } from "./helpers/readme_export_check.ts";
import { withTestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  jsonRequest,
  otpHeaders,
  stepUpHeaders,
} from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import type { CallContext } from "../domain/actor.ts";

const REFUNDS = "/api/admin/payments/refunds";
const AUDIT = "/api/admin/payments/audit-log";

Deno.test("GET /refunds?requested_by=me lists the caller's own refunds; an email is 422", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const res = await w.t.app.request(
      REFUNDS,
      jsonRequest("POST", await stepUpHeaders(w.t, w.operator), {
        transaction_id: pay.txnId,
        amount: 1200,
        reason: "requested_by_customer",
        note: "damaged",
      }),
    );
    assert.equal(res.status, 201);
    const id = (await res.json()).id;

    const mine = await w.t.app.request(`${REFUNDS}?requested_by=me`, {
      headers: authHeaders(w.operator),
    });
    assert.equal(mine.status, 200);
    assert.deepEqual((await mine.json()).data.map((r: { id: string }) => r.id), [id]);
    const theirs = await w.t.app.request(`${REFUNDS}?requested_by=me`, {
      headers: authHeaders(w.operator2),
    });
    assert.deepEqual((await theirs.json()).data, []);

    for (const who of ["ops@example.com", "Ada Lovelace", "adm_01J!"]) {
      const bad = await w.t.app.request(
        `${REFUNDS}?requested_by=${encodeURIComponent(who)}`,
        { headers: authHeaders(w.operator) },
      );
      assert.equal(bad.status, 422, who);
      const body = await bad.json();
      assert.equal(body.errors[0].path, "query.requested_by", who);
      assert.match(body.errors[0].message, /adm_…/);
      assert.match(body.errors[0].message, /\bme\b/);
      assert.match(body.errors[0].message, /stripe_dashboard/);
    }
    for (const who of [w.operator.id, "stripe_dashboard"]) {
      const ok = await w.t.app.request(`${REFUNDS}?requested_by=${who}`, {
        headers: authHeaders(w.operator),
      });
      assert.equal(ok.status, 200, who);
    }
  });
});

Deno.test("GET /audit-log?actor=me lists the caller's own entries; an email is 422 on query.actor", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    const other = await createAdmin(t, "admin");
    const ctx = (id: string): CallContext => ({
      actor: { type: "admin", id, role: "auditor" },
      request: null,
      second_factor: false,
    });
    await t.services.audit.record(ctx(auditor.id), {
      action: "user.note",
      target: { type: "admin", id: auditor.id },
      result: "ok",
    });
    await t.services.audit.record(ctx(other.id), {
      action: "user.note",
      target: { type: "admin", id: other.id },
      result: "ok",
    });
    const mine = await t.app.request(`${AUDIT}?actor=me&action=user.note`, {
      headers: authHeaders(auditor),
    });
    assert.equal(mine.status, 200);
    const page = await mine.json();
    assert.deepEqual(page.data.map((e: { actor: { id: string } }) => e.actor.id), [auditor.id]);

    for (const who of ["ops@example.com", "Ada Lovelace"]) {
      for (const path of [AUDIT, `${AUDIT}/export`]) {
        const res = await t.app.request(`${path}?actor=${encodeURIComponent(who)}`, {
          // the export's validation runs before the second factor is spent
          headers: path === AUDIT ? authHeaders(auditor) : otpHeaders(t, auditor),
        });
        assert.equal(res.status, 422, `${path} ${who}`);
        const body = await res.json();
        assert.equal(body.errors[0].path, "query.actor");
        assert.match(body.errors[0].message, /adm_…/);
        assert.match(body.errors[0].message, /\bme\b/);
      }
    }
    for (const who of [other.id, "stripe", "cron:reconcile_refunds", "cli", "webhook.process"]) {
      const res = await t.app.request(`${AUDIT}?actor=${encodeURIComponent(who)}`, {
        headers: authHeaders(auditor),
      });
      assert.equal(res.status, 200, who);
    }

    const exp = await t.app.request(`${AUDIT}/export?format=jsonl&actor=me&action=user.note`, {
      headers: otpHeaders(t, auditor),
    });
    assert.equal(exp.status, 200);
    const { entries } = splitExport(await exp.text());
    assert.deepEqual(entries.map((e) => e.actor.id), [auditor.id]);
  });
});

Deno.test("a cursor sent with other filters than its page's is 422 saying to send the same filters", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    for (let i = 0; i < 3; i++) {
      await t.services.audit.record({
        actor: { type: "admin", id: auditor.id, role: "auditor" },
        request: null,
        second_factor: false,
      }, { action: "user.note", target: null, result: "ok" });
    }
    const first = await (await t.app.request(`${AUDIT}?action=user.note&limit=1`, {
      headers: authHeaders(auditor),
    })).json();
    assert.equal(typeof first.next_cursor, "string");
    const cursor = encodeURIComponent(first.next_cursor);
    // the same filters and another limit: fine
    const next = await t.app.request(`${AUDIT}?action=user.note&limit=2&cursor=${cursor}`, {
      headers: authHeaders(auditor),
    });
    assert.equal(next.status, 200);
    // a filter dropped
    const res = await t.app.request(`${AUDIT}?limit=1&cursor=${cursor}`, {
      headers: authHeaders(auditor),
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.errors[0].path, "query.cursor");
    assert.match(body.errors[0].message, /same path and filters/);
  });
});

Deno.test("the audit log's action takes a whole dotted name: a prefix is 422 on query.action", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    for (const action of ["refund", "Refund.Create", "refund.*"]) {
      const res = await t.app.request(`${AUDIT}?action=${encodeURIComponent(action)}`, {
        headers: authHeaders(auditor),
      });
      assert.equal(res.status, 422, action);
      const body = await res.json();
      assert.equal(body.errors[0].path, "query.action");
      assert.match(body.errors[0].message, /^action takes a whole dotted action/);
    }
    for (const action of ["refund.create", "auth.step_up", "authorization.capture.settle"]) {
      const res = await t.app.request(`${AUDIT}?action=${action}`, {
        headers: authHeaders(auditor),
      });
      assert.equal(res.status, 200, action);
    }
  });
});

Deno.test("GET /transactions?customer= names the field and what to send", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const res = await t.app.request(
      `/api/admin/payments/transactions?customer=${encodeURIComponent("ada@example.com")}`,
      { headers: authHeaders(viewer) },
    );
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.errors[0].path, "query.customer");
    assert.match(body.errors[0].message, /^customer must be a Stripe customer id \(cus_…\)/);
  });
});
