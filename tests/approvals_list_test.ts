/**
 * GET /api/admin/approvals pages through one status without skipping or
 * repeating a request: the queue's own requests and refunds awaiting approval
 * merged newest first, with or without a kind filter; a pending request past
 * its `expires_at` reads and lists as expired.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { adminContext, authHeaders, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { paymentStory, T0 } from "./helpers/stripe_objects.ts";
import type { ApprovalRequest } from "../domain/approval.ts";

const ctxOf = adminContext;

async function largeRefund(t: TestApp, by: TestAdmin, n: number): Promise<string> {
  const story = paymentStory({ customer: `cus_List${n}`, amount: 90_000 });
  await t.services.stripeEvents.apply(story.created(T0));
  for (const e of story.succeeded(T0 + 1)) await t.services.stripeEvents.apply(e);
  const txn = await t.services.transactions.get(story.pi);
  const r = await t.services.refunds.create(ctxOf(by), {
    transaction_id: txn.id,
    amount: 80_000,
    reason: "requested_by_customer",
    note: `refund ${n}`,
  });
  assert.equal(r.refund.status, "awaiting_approval");
  return r.refund.id;
}

async function walk(t: TestApp, as: TestAdmin, query: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const q = `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await t.app.request(`/api/admin/approvals?${q}`, { headers: authHeaders(as) });
    assert.equal(res.status, 200);
    const page = await res.json() as { data: ApprovalRequest[]; next_cursor: string | null };
    assert.ok(page.data.length <= limit, `a page of ${page.data.length} at limit ${limit}`);
    ids.push(...page.data.map((r) => r.id));
    cursor = page.next_cursor;
    if (!cursor) return ids;
  }
  throw new Error("the cursor never ended");
}

Deno.test("the approvals queue pages the queue's requests and refunds together, newest first, any limit and kind", async () => {
  await withTestApp(async (t) => {
    const [maker, checker] = [await createAdmin(t, "admin"), await createAdmin(t, "admin")];
    t.services.approvals.register("fraud.rule_disable", {
      execute: () => Promise.resolve({}),
    });
    const expected: string[] = [];
    for (let i = 0; i < 5; i++) {
      const req = await t.services.approvals.request(
        "fraud.rule_disable",
        { rule: `rule_${i}`, enabled: false },
        ctxOf(maker),
        { summary: `disable ${i}`, target: { type: "fraud_rule", id: `rule_${i}` } },
      );
      expected.unshift(req.id);
      t.clock.advance(1000);
      if (i % 2 === 0) {
        expected.unshift(await largeRefund(t, maker, i));
        t.clock.advance(1000);
      }
    }
    for (const limit of [1, 2, 3, 7, 50]) {
      assert.deepEqual(await walk(t, checker, "status=pending", limit), expected, `limit ${limit}`);
    }
    const refunds = expected.filter((id) => id.startsWith("rfd_"));
    assert.deepEqual(await walk(t, checker, "status=pending&kind=refund.approve", 1), refunds);
    assert.deepEqual(
      await walk(t, checker, "status=pending&kind=fraud.rule_disable", 2),
      expected.filter((id) => id.startsWith("apr_")),
    );
  });
});

Deno.test("a pending request past its expires_at reads and lists as expired, not pending", async () => {
  await withTestApp(async (t) => {
    const [maker, checker] = [await createAdmin(t, "admin"), await createAdmin(t, "admin")];
    t.services.approvals.register("fraud.rule_disable", {
      execute: () => Promise.resolve({}),
    });
    const ask = (rule: string) =>
      t.services.approvals.request("fraud.rule_disable", { rule, enabled: false }, ctxOf(maker), {
        summary: `disable ${rule}`,
      });
    const old = await ask("velocity");
    t.clock.advance(3600_000);
    const recent = await ask("score");
    t.clock.set(Date.parse(old.expires_at) + 1000);

    assert.deepEqual(await walk(t, checker, "status=pending", 10), [recent.id]);
    assert.deepEqual(await walk(t, checker, "status=expired", 10), [old.id]);
    const shown = await t.app.request(`/api/admin/approvals/${old.id}`, {
      headers: authHeaders(checker),
    });
    assert.equal((await shown.json()).status, "expired");
  });
});

Deno.test("an expired request can be neither approved nor rejected; either try marks it expired", async () => {
  await withTestApp(async (t) => {
    const [maker, checker] = [await createAdmin(t, "admin"), await createAdmin(t, "admin")];
    t.services.approvals.register("fraud.rule_disable", {
      execute: () => Promise.resolve({}),
    });
    const req = await t.services.approvals.request(
      "fraud.rule_disable",
      { rule: "velocity", enabled: false },
      ctxOf(maker),
      { summary: "disable velocity" },
    );
    t.clock.set(Date.parse(req.expires_at) + 1);
    const rejected = await t.app.request(`/api/admin/approvals/${req.id}/reject`, {
      method: "POST",
      headers: { ...authHeaders(checker), "content-type": "application/json" },
      body: JSON.stringify({ note: "too late" }),
    });
    assert.equal(rejected.status, 409);
    const problem = await rejected.json();
    assert.equal(problem.request_status, "expired");
    const stored = await t.services.approvals.get(req.id);
    assert.equal(stored.status, "expired");
    assert.equal(stored.decided_by, null);
  });
});
