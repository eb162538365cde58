/**
 * Every refused attempt at a privileged account action is an audit entry with
 * `result: denied` (README: the audit log records every action, denied ones
 * too), as the self-reset refusals (`token.rotate`, `totp.reset`) are: a
 * request for an email or an account that already has one waiting, an email
 * already taken, a role change a disabled account cannot take, a decision on
 * a request someone else already decided, a token rotation that lost to
 * another. A malformed body (422) or an unknown id (404) leaves no entry.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  adminContext,
  auditEntries,
  createAdmin,
  createAdmins,
  otpHeaders,
  sendJson,
  stepUpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";
import { hashToken } from "../services/identity/crypto.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";

async function denials(t: TestApp): Promise<AuditEntry[]> {
  return (await auditEntries(t.kv)).filter((e) => e.result === "denied");
}

/** The denied entries written while `act` ran. */
async function deniedDuring(t: TestApp, act: () => Promise<unknown>): Promise<AuditEntry[]> {
  const before = (await denials(t)).length;
  await act();
  return (await denials(t)).slice(before);
}

async function post(t: TestApp, by: TestAdmin, path: string, body?: unknown) {
  return await sendJson(t, "POST", path, await stepUpHeaders(t, by), body);
}

Deno.test("attack: asking again to create an account whose creation is pending, or whose email is taken, is audited denied", async () => {
  await withTestApp(async (t) => {
    const [a, b] = await createAdmins(t, 2);
    const email = "new.operator@example.com";
    const first = await post(t, a, "/api/admin/users", { email, role: "operator" });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    let again: { status: number; body: Record<string, unknown> } | undefined;
    const pending = await deniedDuring(t, async () => {
      again = await post(t, b, "/api/admin/users", { email, role: "admin" });
    });
    assert.equal(again?.status, 409, JSON.stringify(again?.body));
    assert.equal(pending.length, 1, "one denied entry");
    assert.equal(pending[0].action, "user.create");
    assert.equal(pending[0].actor.id, b.id);
    assert.deepEqual(pending[0].target, { type: "approval", id: first.body.approval.id });
    assert.match(String(pending[0].reason), /already pending/);
    assert.doesNotMatch(JSON.stringify(pending[0]), /new\.operator@example\.com/, "email masked");

    // a viewer for the same email waits for the pending request too
    const viewer = await deniedDuring(t, async () => {
      assert.equal((await post(t, b, "/api/admin/users", { email, role: "viewer" })).status, 409);
    });
    assert.deepEqual(viewer.map((e) => e.action), ["user.create"]);

    // an email that already has an account
    const taken = await deniedDuring(t, async () => {
      for (const role of ["viewer", "operator"]) {
        const res = await post(t, a, "/api/admin/users", { email: b.email, role });
        assert.equal(res.status, 409, JSON.stringify(res.body));
      }
    });
    assert.deepEqual(taken.map((e) => [e.action, e.target?.id]), [
      ["user.create", b.id],
      ["user.create", b.id],
    ]);

    // not refusals: a malformed body
    const quiet = await deniedDuring(t, async () => {
      const res = await post(t, a, "/api/admin/users", { email: "nope", role: "viewer" });
      assert.equal(res.status, 422);
    });
    assert.deepEqual(quiet, []);
  });
});

Deno.test("attack: asking again for a role grant, a token rotation or a second-factor reset already waiting is audited denied", async () => {
  await withTestApp(async (t) => {
    const [a, b, c] = await createAdmins(t, 3);
    const viewer = await createAdmin(t, "viewer");
    const grant = (by: TestAdmin) =>
      sendJson(t, "PATCH", `/api/admin/users/${viewer.id}`, otpHeaders(t, by), { role: "admin" });
    assert.equal((await grant(a)).status, 202);
    // the same request again by its requester is a second click: answered, no refusal
    const sameAgain = await deniedDuring(t, async () => {
      const res = await grant(a);
      assert.equal(res.status, 202, JSON.stringify(res.body));
    });
    assert.deepEqual(sameAgain, []);
    const grantAgain = await deniedDuring(t, async () => {
      const res = await grant(c);
      assert.equal(res.status, 409, JSON.stringify(res.body));
    });
    assert.deepEqual(grantAgain.map((e) => [e.action, e.target?.id, e.actor.id]), [
      ["user.update", viewer.id, c.id],
    ]);
    assert.match(String(grantAgain[0].reason), /already waits/);

    for (const [path, action] of [["rotate-token", "token.rotate"], ["reset-2fa", "totp.reset"]]) {
      assert.equal((await post(t, a, `/api/admin/users/${b.id}/${path}`)).status, 202);
      const again = await deniedDuring(t, async () => {
        const res = await post(t, c, `/api/admin/users/${b.id}/${path}`);
        assert.equal(res.status, 409, JSON.stringify(res.body));
      });
      assert.deepEqual(again.map((e) => [e.action, e.target?.id]), [[action, b.id]], path);
    }

    // an unknown account is no refusal of anything
    const quiet = await deniedDuring(t, async () => {
      const res = await post(t, a, "/api/admin/users/adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R/rotate-token");
      assert.equal(res.status, 404);
    });
    assert.deepEqual(quiet, []);
  });
});

Deno.test("attack: changing the role of a disabled account, or granting and disabling at once, is audited denied", async () => {
  await withTestApp(async (t) => {
    const [a] = await createAdmins(t, 1);
    const viewer = await createAdmin(t, "viewer");
    const patch = (body: unknown) =>
      sendJson(t, "PATCH", `/api/admin/users/${viewer.id}`, otpHeaders(t, a), body);
    const both = await deniedDuring(t, async () => {
      const res = await patch({ role: "operator", status: "disabled" });
      assert.equal(res.status, 409, JSON.stringify(res.body));
    });
    assert.deepEqual(both.map((e) => [e.action, e.target?.id]), [["user.update", viewer.id]]);
    assert.equal((await patch({ status: "disabled" })).status, 200);
    const disabled = await deniedDuring(t, async () => {
      const res = await patch({ role: "support" });
      assert.equal(res.status, 409, JSON.stringify(res.body));
    });
    assert.deepEqual(disabled.map((e) => [e.action, e.target?.id]), [["user.update", viewer.id]]);
  });
});

Deno.test("attack: approving or rejecting a request someone else already decided is audited denied", async () => {
  await withTestApp(async (t) => {
    const [a, b, c] = await createAdmins(t, 3);
    const asked = await post(t, a, "/api/admin/users", {
      email: "second@example.com",
      role: "operator",
    });
    const id = asked.body.approval.id;
    const approved = await post(t, b, `/api/admin/approvals/${id}/approve`, {});
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const late = await deniedDuring(t, async () => {
      assert.equal((await post(t, c, `/api/admin/approvals/${id}/approve`, {})).status, 409);
      assert.equal((await post(t, c, `/api/admin/approvals/${id}/reject`, {})).status, 409);
    });
    // each on the request and, in the account's history, on the account it created
    const account = asked.body.approval.payload.admin_id;
    assert.deepEqual(late.map((e) => [e.action, e.target?.id, e.actor.id]), [
      ["approval.approve", id, c.id],
      ["user.approve", account, c.id],
      ["approval.reject", id, c.id],
      ["user.reject", account, c.id],
    ]);
    assert.match(String(late[0].reason), /executed/);
    // the approver's own repeat is no refusal: it is answered again
    const replay = await deniedDuring(t, async () => {
      const res = await post(t, b, `/api/admin/approvals/${id}/approve`, {});
      assert.equal(res.status, 200);
      assert.equal(res.body.replayed, true);
    });
    assert.deepEqual(replay, []);
  });
});

Deno.test("attack: a rotation of your own token that lost to a concurrent one is audited denied", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const hash = await hashToken(a.token);
    const ctx = adminContext(a);
    const runs = await Promise.allSettled([
      t.services.identity.rotateOwnToken(ctx, hash),
      t.services.identity.rotateOwnToken(ctx, hash),
    ]);
    assert.deepEqual(runs.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const denied = (await denials(t)).filter((e) => e.action === "token.rotate");
    assert.equal(denied.length, 1);
    assert.equal(denied[0].actor.id, a.id);
    assert.match(String(denied[0].reason), /rotated by another request/);
  });
});
