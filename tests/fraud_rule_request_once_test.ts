/**
 * A rule change that waits for a second admin waits one at a time per rule,
 * as an accept waits one at a time per dispute and an account request per
 * account (README "Fraud detection", Tuning). A second click, or a burst of
 * the same PUT, queued one identical request each (10 parallel made 10), of
 * which at most one could ever execute: each names the version it was
 * judged against, and the first approved makes a new one. Another change
 * that needs a second admin while one waits is now 409 naming it, audited
 * `denied` (the same change sent again by its requester, a second click,
 * answers the one waiting); once that request can no longer execute (the rule changed
 * since), a new one may be asked for.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson, stepUpHeaders } from "./helpers/identity.ts";

const RULES = "/api/admin/payments/fraud/rules";

async function pendingOf(t: TestApp, h: Record<string, string>, rule: string) {
  const r = await sendJson(t, "GET", "/api/admin/approvals?status=pending&limit=100", h);
  assert.equal(r.status, 200);
  return r.body.data.filter((a: { target: { id: string } }) => a.target?.id === rule);
}

Deno.test("a rule change waiting for a second admin waits alone: another is 409 naming it", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const h = await stepUpHeaders(t, admin);
    const first = await sendJson(t, "PUT", `${RULES}/velocity`, h, { alert_at: 12 });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const id = first.body.approval.id;

    // the same change sent again (a second click) answers the request waiting
    const again = await sendJson(t, "PUT", `${RULES}/velocity`, h, { alert_at: 12 });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.approval.id, id);
    const looser = await sendJson(t, "PUT", `${RULES}/velocity`, h, { alert_at: 13 });
    assert.equal(looser.status, 409, JSON.stringify(looser.body));
    assert.equal(looser.body.code, "conflict");
    assert.match(looser.body.detail, new RegExp(id));
    const disable = await sendJson(t, "PUT", `${RULES}/velocity`, h, { enabled: false });
    assert.equal(disable.status, 409, "a pause waits behind it too");
    assert.equal((await pendingOf(t, h, "velocity")).length, 1);

    const log = await sendJson(
      t,
      "GET",
      "/api/admin/payments/audit-log?action=fraud_rule.update&limit=10",
      authHeaders(admin),
    );
    assert.equal(log.body.data.filter((e: { result: string }) => e.result === "denied").length, 2);

    // another rule is its own queue
    assert.equal((await sendJson(t, "PUT", `${RULES}/score`, h, { alert_at: 70 })).status, 202);
    // a tightening applies at once: the waiting request names an older version and can no
    // longer execute, so it holds nothing up
    const tighter = await sendJson(t, "PUT", `${RULES}/velocity`, h, { watch_points: 30 });
    assert.equal(tighter.status, 200, JSON.stringify(tighter.body));
    assert.equal((await sendJson(t, "PUT", `${RULES}/velocity`, h, { alert_at: 12 })).status, 202);
  });
});

Deno.test("a burst of the same loosening queues one request, which each answers", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const h = await stepUpHeaders(t, admin);
    const burst = await Promise.all(
      Array.from(
        { length: 10 },
        () => sendJson(t, "PUT", `${RULES}/velocity`, h, { alert_at: 12 }),
      ),
    );
    assert.deepEqual(burst.map((r) => r.status), Array(10).fill(202));
    assert.equal(new Set(burst.map((r) => r.body.approval.id)).size, 1);
    assert.equal((await pendingOf(t, h, "velocity")).length, 1);
  });
});
