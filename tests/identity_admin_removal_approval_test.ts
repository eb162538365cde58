/**
 * What becomes of a disable or demotion of an admin that waited for a second
 * admin (README, "Two-person rules"): an unlinked admin's approval carries it
 * out (audited, with its ops alert), the rogue cannot approve their own, a
 * disabled admin's requests end with the account, and the CLI (break-glass)
 * still acts alone on every account.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  adminContext,
  auditEntries,
  authHeaders,
  createAdmin,
  createAdmins,
  jsonRequest,
  otpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";

async function send(t: TestApp, method: string, path: string, by: TestAdmin, body: unknown) {
  const res = await t.app.request(path, jsonRequest(method, otpHeaders(t, by), body));
  return { status: res.status, body: await res.json() };
}

const patch = (t: TestApp, by: TestAdmin, id: string, body: unknown) =>
  send(t, "PATCH", `/api/admin/users/${id}`, by, body);

function approve(t: TestApp, by: TestAdmin, request: { id: string; approval_hash: string }) {
  return send(t, "POST", `/api/admin/approvals/${request.id}/approve`, by, {
    approval_hash: request.approval_hash,
  });
}

async function alertsFor(t: TestApp, id: string) {
  const page = await t.services.opsAlerts.list({ limit: 100 });
  return page.data.filter((a) => a.admin_id === id).map((a) => a.kind);
}

/** Four admins; the rogue spends its one removal alone on `a`. */
async function rogueWithSpentDay(t: TestApp) {
  const rogue = await createAdmin(t, "admin");
  const [a, b, c] = await createAdmins(t, 3);
  assert.equal((await patch(t, rogue, a.id, { status: "disabled" })).status, 200);
  return { rogue, a, b, c };
}

Deno.test("an unlinked admin's approval of a pending disable disables the admin: audited, alerted, token dead; the approver's own 24 h stays free", async () => {
  await withTestApp(async (t) => {
    const { rogue, b, c } = await rogueWithSpentDay(t);
    const asked = await patch(t, rogue, b.id, { status: "disabled" });
    assert.equal(asked.status, 202);
    const request = asked.body.pending_approval;
    assert.equal((await t.app.request("/api/admin/me", { headers: authHeaders(b) })).status, 200);
    const ok = await approve(t, c, request);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.approval.status, "executed", JSON.stringify(ok.body));
    assert.equal((await t.services.identity.getAdmin(b.id)).status, "disabled");
    assert.equal((await t.app.request("/api/admin/me", { headers: authHeaders(b) })).status, 401);
    assert.deepEqual(await alertsFor(t, b.id), ["admin_disabled"]);
    const entry = (await auditEntries(t.kv)).find((e) =>
      e.action === "user.disable" && e.target?.id === b.id
    );
    assert.equal(entry?.actor.id, c.id);
    assert.equal((entry?.after as Record<string, unknown>)?.approval_id, request.id);
    assert.equal((entry?.after as Record<string, unknown>)?.requested_by, rogue.id);
    // approving spent nothing of c's own: c cuts the rogue off at once (d stays active)
    await createAdmin(t, "admin");
    const cut = await patch(t, c, rogue.id, { status: "disabled" });
    assert.equal(cut.status, 200, JSON.stringify(cut.body));
  });
});

Deno.test("an approved demotion demotes the admin (audited, alerted); a request about an admin changed since is void", async () => {
  await withTestApp(async (t) => {
    const { rogue, b, c } = await rogueWithSpentDay(t);
    const asked = await patch(t, rogue, b.id, { role: "analyst" });
    assert.equal(asked.status, 202);
    assert.equal(asked.body.pending_approval.payload.role, "analyst");
    const ok = await approve(t, c, asked.body.pending_approval);
    assert.equal(ok.body.approval.status, "executed", JSON.stringify(ok.body));
    assert.equal((await t.services.identity.getAdmin(b.id)).role, "analyst");
    assert.deepEqual(await alertsFor(t, b.id), ["admin_demoted"]);
    assert.ok(
      (await auditEntries(t.kv)).some((e) =>
        e.action === "user.update" && e.target?.id === b.id && e.actor.id === c.id
      ),
    );
    // the rogue asks to disable c; c's record changes meanwhile (the CLI rotates its token)
    const d = await createAdmin(t, "admin");
    const late = await patch(t, rogue, c.id, { status: "disabled" });
    assert.equal(late.status, 202);
    await t.services.identity.rotateToken(systemContext("cli"), c.id);
    const refused = await approve(t, d, late.body.pending_approval);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal((await t.services.identity.getAdmin(c.id)).status, "active");
  });
});

Deno.test("attack: the rogue cannot approve their own request, nor can the admin it acts on", async () => {
  await withTestApp(async (t) => {
    const { rogue, b } = await rogueWithSpentDay(t);
    const asked = await patch(t, rogue, b.id, { status: "disabled" });
    for (const who of [rogue, b]) {
      const res = await approve(t, who, asked.body.pending_approval);
      assert.equal(res.status, 403);
      assert.equal(res.body.code, "self_approval_forbidden");
    }
    assert.equal((await t.services.identity.getAdmin(b.id)).status, "active");
    const denied = (await auditEntries(t.kv)).filter((e) =>
      e.action === "approval.approve" && e.result === "denied"
    );
    assert.equal(denied.length, 2);
  });
});

Deno.test("a disabled admin's own requests end with the account: the victim's, and the rogue's once cut off", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const [a, b, c] = await createAdmins(t, 3);
    // a asks to rotate the rogue's token; the rogue disables a: a's request ends with a
    const rotate = await send(t, "POST", `/api/admin/users/${rogue.id}/rotate-token`, a, {});
    assert.equal(rotate.status, 202);
    assert.equal((await patch(t, rogue, a.id, { status: "disabled" })).status, 200);
    assert.equal((await t.services.approvals.get(rotate.body.id)).status, "expired");
    // the rogue's further disable waits; c cuts the rogue off, and the request ends with it
    const asked = await patch(t, rogue, b.id, { status: "disabled" });
    assert.equal(asked.status, 202);
    assert.equal((await patch(t, c, rogue.id, { status: "disabled" })).status, 200);
    const request = await t.services.approvals.get(asked.body.pending_approval.id);
    assert.equal(request.status, "expired");
    assert.match(request.error ?? "", new RegExp(`${rogue.id}.*disabled`));
    const late = await approve(t, c, asked.body.pending_approval);
    assert.equal(late.status, 409);
    assert.equal((await t.services.identity.getAdmin(b.id)).status, "active");
    // an in-flight change by the admin just disabled does not land either
    const inFlight = await t.services.identity.updateAdmin(adminContext(rogue), b.id, {
      status: "disabled",
    }).then(() => null, (e) => e);
    assert.equal(inFlight?.code, "forbidden");
    assert.equal((await t.services.identity.getAdmin(b.id)).status, "active");
  });
});

Deno.test("the CLI still recovers alone: no 24 h, no last-admin rule; its removals raise ops alerts too", async () => {
  await withTestApp(async (t) => {
    const { rogue, a, b } = await rogueWithSpentDay(t);
    assert.equal((await patch(t, rogue, b.id, { status: "disabled" })).status, 202);
    const cli = systemContext("cli");
    const cut = await t.services.identity.updateAdmin(cli, rogue.id, { status: "disabled" });
    assert.equal(cut.admin.status, "disabled");
    assert.equal(cut.pending_approval, null);
    const back = await t.services.identity.updateAdmin(cli, a.id, { status: "active" });
    assert.equal(back.admin.status, "active");
    assert.match(back.handover?.enrollment_code ?? "", /^enr_/);
    // the CLI may leave a single admin: whoever holds the KV acts alone on purpose
    for (const x of [a, b]) {
      const r = await t.services.identity.updateAdmin(cli, x.id, { status: "disabled" });
      assert.equal(r.admin.status, "disabled");
    }
    const demoted = await t.services.identity.updateAdmin(cli, rogue.id, { role: "viewer" });
    assert.equal(demoted.admin.role, "viewer");
    assert.deepEqual(await alertsFor(t, rogue.id), ["admin_disabled"], "a disabled admin's role");
    // newest first: disabled by the rogue, re-enabled by the CLI (alone: an alert too), disabled
    assert.deepEqual(await alertsFor(t, a.id), [
      "admin_disabled",
      "admin_enabled",
      "admin_disabled",
    ]);
    const page = await t.services.opsAlerts.list({ limit: 100 });
    const byCli = page.data.find((x) => x.admin_id === b.id);
    assert.match(byCli?.detail ?? "", /break-glass/);
  });
});
