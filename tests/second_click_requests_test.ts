/**
 * A request sent again (a second click, a retry, a burst) by the person who
 * sent it answers what the first did, nothing written; anyone else's is 409
 * naming who acted and when, and never names the caller as if they were
 * someone else (README, "Two-person rules", "Accounts and enrollment",
 * "Refund approval policy", "Fraud detection").
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { auditEntries, createAdmin, sendJson, stepUpHeaders } from "./helpers/identity.ts";
import { approvalOf, withRefundWorld } from "./helpers/refunds.ts";
import { AppError } from "../core/errors.ts";

const RULES = "/api/admin/payments/fraud/rules";

async function pending(t: TestApp, kind: string): Promise<number> {
  const page = await t.services.approvals.list({ status: "pending", limit: 100 });
  return page.data.filter((r) => r.kind === kind).length;
}

async function deniedCount(t: TestApp): Promise<number> {
  return (await auditEntries(t.kv)).filter((e) => e.result === "denied").length;
}

Deno.test("account requests sent again by their requester answer the request waiting; another admin's is 409 naming who asked and when", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const target = await createAdmin(t, "operator");
    const viewer = await createAdmin(t, "viewer");
    const ha = await stepUpHeaders(t, a);
    const hb = await stepUpHeaders(t, b);
    const sends = [
      ["user.rotate_token", "POST", `/api/admin/users/${target.id}/rotate-token`, {}],
      ["user.reset_2fa", "POST", `/api/admin/users/${target.id}/reset-2fa`, {}],
      ["user.role_grant", "PATCH", `/api/admin/users/${viewer.id}`, { role: "operator" }],
      ["user.create", "POST", "/api/admin/users", { email: "new@example.com", role: "operator" }],
    ] as const;
    for (const [kind, method, path, body] of sends) {
      const first = await sendJson(t, method, path, ha, body);
      assert.equal(first.status, 202, `${kind}: ${JSON.stringify(first.body)}`);
      const id = first.body.approval?.id ?? first.body.pending_approval?.id ?? first.body.id;
      const denied = await deniedCount(t);
      const burst = await Promise.all(
        Array.from({ length: 4 }, () => sendJson(t, method, path, ha, body)),
      );
      for (const r of burst) {
        assert.equal(r.status, 202, `${kind}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.approval?.id ?? r.body.pending_approval?.id ?? r.body.id, id, kind);
      }
      assert.equal(await pending(t, kind), 1, kind);
      assert.equal(await deniedCount(t), denied, `${kind}: a second click is no refusal`);
      const other = await sendJson(t, method, path, hb, body);
      assert.equal(other.status, 409, kind);
      assert.match(other.body.detail, new RegExp(`by ${a.id} at \\d{4}-`), kind);
      assert.equal(await deniedCount(t), denied + 1, `${kind}: another's is audited denied`);
    }
  });
});

Deno.test("a rule change sent again by its requester answers the request waiting; another admin's is 409 naming who and when", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const ha = await stepUpHeaders(t, a);
    const first = await sendJson(t, "PUT", `${RULES}/velocity`, ha, { alert_at: 12 });
    assert.equal(first.status, 202);
    const burst = await Promise.all(
      Array.from(
        { length: 4 },
        () => sendJson(t, "PUT", `${RULES}/velocity`, ha, { alert_at: 12 }),
      ),
    );
    assert.deepEqual(burst.map((r) => r.status), [202, 202, 202, 202]);
    for (const r of burst) assert.equal(r.body.approval.id, first.body.approval.id);
    assert.equal(await deniedCount(t), 0);
    // another change by the same admin waits behind it: 409 saying it is theirs
    const mine = await sendJson(t, "PUT", `${RULES}/velocity`, ha, { enabled: false });
    assert.equal(mine.status, 409);
    assert.match(mine.body.detail, new RegExp(`by you \\(${a.id}\\) at \\d{4}-`));
    const other = await sendJson(t, "PUT", `${RULES}/velocity`, await stepUpHeaders(t, b), {
      alert_at: 12,
    });
    assert.equal(other.status, 409);
    assert.match(other.body.detail, new RegExp(`by ${a.id} at \\d{4}-`));
  });
});

Deno.test("a decided request's 409 says who decided and when, and calls its own decider 'you'", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const c = await createAdmin(t, "admin");
    const target = await createAdmin(t, "operator");
    const asked = await sendJson(
      t,
      "POST",
      `/api/admin/users/${target.id}/rotate-token`,
      await stepUpHeaders(t, a),
    );
    const path = `/api/admin/approvals/${asked.body.id}`;
    const hb = await stepUpHeaders(t, b);
    assert.equal((await sendJson(t, "POST", `${path}/approve`, hb)).status, 200);
    const own = await sendJson(t, "POST", `${path}/reject`, hb);
    assert.equal(own.status, 409);
    assert.match(own.body.detail, new RegExp(`by you \\(${b.id}\\) at \\d{4}-`));
    const other = await sendJson(t, "POST", `${path}/approve`, await stepUpHeaders(t, c));
    assert.equal(other.status, 409);
    assert.match(other.body.detail, new RegExp(`by ${b.id} at \\d{4}-`));
  });
});

Deno.test("a decided refund's 409 says who decided and when, and calls its own decider 'you'", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(8000);
    const res = await w.t.services.refunds.create(w.ctx(w.operator), {
      transaction_id: pay.txnId,
      amount: 6000,
      reason: "requested_by_customer",
      note: "large goodwill refund",
    });
    const id = res.refund.id;
    const body = await approvalOf(w.t, id); // as read before the rejection
    await w.t.services.refunds.reject(w.ctx(w.operator2), id, { note: "not eligible" });
    const refusal = async (p: Promise<unknown>) => {
      const e = await p.then(() => null, (e) => e);
      assert.ok(e instanceof AppError && e.code === "conflict", String(e));
      return e.message;
    };
    assert.match(
      await refusal(w.t.services.refunds.approve(w.ctx(w.operator2), id, body)),
      new RegExp(`by you \\(${w.operator2.id}\\) at \\d{4}-`),
    );
    assert.match(
      await refusal(w.t.services.refunds.approve(w.ctx(w.admin), id, body)),
      new RegExp(`rejected by ${w.operator2.id} at \\d{4}-`),
    );
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000" } });
});
