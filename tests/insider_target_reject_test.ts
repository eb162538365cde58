/**
 * The admin a request acts on does not decide it, either way (README,
 * "Two-person rules"): a rogue whose token another admin asks to rotate, or
 * whom another admin asks to disable, cannot reject the request and so veto
 * it; nor can an account linked to them. The requester still withdraws their
 * own request, and an unlinked admin still rejects it.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  approvedAccount,
  auditEntries,
  createAdmin,
  createAdmins,
  otpHeaders,
  sendJson,
  type TestAdmin,
} from "./helpers/identity.ts";

const send = (t: TestApp, method: string, path: string, by: TestAdmin, body: unknown) =>
  sendJson(t, method, path, otpHeaders(t, by), body);

const reject = (t: TestApp, by: TestAdmin, id: string) =>
  send(t, "POST", `/api/admin/approvals/${id}/reject`, by, { note: "no" });

Deno.test("attack: the admin a token rotation acts on cannot reject it (veto its own rotation); audited denied", async () => {
  await withTestApp(async (t) => {
    const [a, rogue, c, d] = await createAdmins(t, 4);
    // a second admin account the rogue asked for (d approved it): linked to the rogue
    const second = await approvedAccount(t, rogue, d, "admin");
    const asked = await send(t, "POST", `/api/admin/users/${rogue.id}/rotate-token`, a, undefined);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const request = asked.body;
    for (const who of [rogue, second]) {
      const vetoed = await reject(t, who, request.id);
      assert.equal(vetoed.status, 403, JSON.stringify(vetoed.body));
      assert.equal(vetoed.body.code, "self_approval_forbidden");
      assert.equal((await t.services.approvals.get(request.id)).status, "pending");
    }
    const denied = (await auditEntries(t.kv)).filter((e) =>
      e.action === "approval.reject" && e.result === "denied" &&
      [rogue.id, second.id].includes(e.actor.id)
    );
    assert.equal(denied.length, 2);
    // an admin not linked to either still decides it
    const ok = await send(t, "POST", `/api/admin/approvals/${request.id}/approve`, c, {
      approval_hash: request.approval_hash,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });
});

Deno.test("attack: the admin a pending disable acts on cannot reject it; the requester withdraws, an unlinked admin rejects", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const [a, b, c] = await createAdmins(t, 3);
    // a spends its one removal alone: its next is a pending request
    assert.equal(
      (await send(t, "PATCH", `/api/admin/users/${b.id}`, a, { status: "disabled" })).status,
      200,
    );
    const asked = await send(t, "PATCH", `/api/admin/users/${rogue.id}`, a, { status: "disabled" });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const request = asked.body.pending_approval;
    const vetoed = await reject(t, rogue, request.id);
    assert.equal(vetoed.status, 403, JSON.stringify(vetoed.body));
    assert.equal((await t.services.approvals.get(request.id)).status, "pending");
    const ok = await reject(t, c, request.id);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const again = await send(t, "PATCH", `/api/admin/users/${rogue.id}`, a, { status: "disabled" });
    assert.equal(again.status, 202);
    assert.equal((await reject(t, a, again.body.pending_approval.id)).status, 200);
  });
});
