/**
 * `actions` offers only what the caller's role may do (README "Dispute workbench", roles
 * in its table): a support agent is not offered `submit` or `accept`, a viewer nothing.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment } from "./helpers/disputes.ts";
import { createAdmin } from "./helpers/identity.ts";

Deno.test("actions follow the caller's role, on the detail, the list and a save's answer", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const viewer = await createAdmin(w.t, "viewer");
    const saved = await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada",
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.deepEqual(saved.body.actions, ["evidence", "notes"]);
    const path = `/disputes/${dispute.id}`;
    assert.deepEqual((await call(w, support, "GET", path)).body.actions, ["evidence", "notes"]);
    assert.deepEqual((await call(w, viewer, "GET", path)).body.actions, []);
    assert.deepEqual((await call(w, w.operator, "GET", path)).body.actions, [
      "evidence",
      "submit",
      "accept",
      "notes",
    ]);
    // every action offered to the support agent is one their role may take
    const submit = await call(w, support, "POST", `${path}/submit`, undefined, true);
    assert.equal(submit.status, 403);

    const rowOf = async (who: typeof support) => {
      const list = await call(w, who, "GET", "/disputes");
      assert.equal(list.status, 200, JSON.stringify(list.body));
      return list.body.data.find((d: { id: string }) => d.id === dispute.id);
    };
    assert.deepEqual((await rowOf(support)).actions, ["evidence", "notes"]);
    assert.deepEqual((await rowOf(viewer)).actions, []);
    assert.deepEqual((await rowOf(w.operator)).actions, ["evidence", "submit", "accept", "notes"]);

    // the same dispute answers each role its own ETag: a tag from one role is no 304 for another
    const asSupport = await w.t.app.request(`${API}${path}`, {
      headers: { authorization: `Bearer ${support.token}` },
    });
    const tag = asSupport.headers.get("etag")!;
    await asSupport.body?.cancel();
    const asOperator = await w.t.app.request(`${API}${path}`, {
      headers: { authorization: `Bearer ${w.operator.token}`, "if-none-match": tag },
    });
    assert.equal(asOperator.status, 200);
    assert.ok((await asOperator.json()).actions.includes("submit"));
    const again = await w.t.app.request(`${API}${path}`, {
      headers: { authorization: `Bearer ${support.token}`, "if-none-match": tag },
    });
    assert.equal(again.status, 304);
  });
});
