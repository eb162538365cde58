import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  authHeaders,
  createAdmin,
  jsonRequest,
  otpHeaders,
  patchUser,
  roleOf,
  type TestAdmin,
} from "./helpers/identity.ts";

function approve(t: TestApp, actor: TestAdmin, id: string, grantId: string) {
  return t.app.request(
    `/api/admin/users/${id}/role-grants/${grantId}/approve`,
    jsonRequest("POST", otpHeaders(t, actor)),
  );
}

Deno.test("granting admin waits for a different admin's approval", async () => {
  await withTestApp(async (t) => {
    const alice = await createAdmin(t, "admin");
    const bob = await createAdmin(t, "admin");
    const vic = await createAdmin(t, "operator");
    const asked = await patchUser(t, alice, vic.id, { role: "admin" });
    assert.equal(asked.status, 202);
    const { pending_role_grant: grant } = await asked.json();
    assert.equal(grant.status, "pending");
    assert.equal(grant.from_role, "operator");
    assert.equal(await roleOf(t, vic.id), "operator", "nothing changes before approval");
    const twice = await (await patchUser(t, alice, vic.id, { role: "admin" })).json();
    assert.equal(twice.pending_role_grant.id, grant.id, "asking again is the same grant");

    const detail = await (await t.app.request(`/api/admin/users/${vic.id}`, {
      headers: authHeaders(bob),
    })).json();
    assert.deepEqual(detail.pending_role_grants.map((g: { id: string }) => g.id), [grant.id]);

    const self = await approve(t, alice, vic.id, grant.id);
    assert.equal(self.status, 403);
    assert.equal((await self.json()).code, "self_approval_forbidden");
    assert.equal(await roleOf(t, vic.id), "operator");

    const noOtp = await t.app.request(
      `/api/admin/users/${vic.id}/role-grants/${grant.id}/approve`,
      jsonRequest("POST", authHeaders(bob)),
    );
    assert.equal((await noOtp.json()).code, "otp_required");

    const ok = await approve(t, bob, vic.id, grant.id);
    assert.equal(ok.status, 200);
    const approved = await ok.json();
    assert.equal(approved.admin.role, "admin");
    assert.equal(approved.grant.decided_by, bob.id);
    assert.equal(await roleOf(t, vic.id), "admin");
    assert.equal((await approve(t, bob, vic.id, grant.id)).status, 409);

    const entries = await auditEntries(t.kv);
    const actions = entries.map((e) => `${e.action}:${e.result}`);
    assert.ok(actions.includes("user.role_grant.request:ok"));
    assert.ok(actions.includes("user.role_grant.approve:denied"));
    assert.ok(actions.includes("user.role_grant.approve:ok"));
  });
});

Deno.test("creating an admin from the API starts it as viewer with a pending grant", async () => {
  await withTestApp(async (t) => {
    const alice = await createAdmin(t, "admin");
    const bob = await createAdmin(t, "admin");
    const res = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", otpHeaders(t, alice), { email: "new@example.com", role: "admin" }),
    );
    assert.equal(res.status, 201);
    const body = await res.json();
    assert.equal(body.admin.role, "viewer");
    assert.equal(body.pending_role_grant.role, "admin");
    assert.equal((await approve(t, bob, body.admin.id, body.pending_role_grant.id)).status, 200);
    assert.equal(await roleOf(t, body.admin.id), "admin");
  });
});

Deno.test("a role grant cannot be approved once rejected, expired or outdated", async () => {
  await withTestApp(async (t) => {
    const alice = await createAdmin(t, "admin");
    const bob = await createAdmin(t, "admin");
    const vic = await createAdmin(t, "viewer");
    const ask = async () =>
      (await (await patchUser(t, alice, vic.id, { role: "admin" })).json())
        .pending_role_grant;

    const rejected = await ask();
    const rej = await t.app.request(
      `/api/admin/users/${vic.id}/role-grants/${rejected.id}/reject`,
      jsonRequest("POST", authHeaders(alice)),
    );
    assert.equal(rej.status, 200);
    assert.equal((await rej.json()).status, "rejected");
    assert.equal((await approve(t, bob, vic.id, rejected.id)).status, 409);

    const expired = await ask();
    assert.notEqual(expired.id, rejected.id);
    t.clock.advance(24 * 60 * 60_000);
    const late = await approve(t, bob, vic.id, expired.id);
    assert.equal(late.status, 409);
    assert.match((await late.json()).detail, /expired/);

    const outdated = await ask();
    assert.equal((await patchUser(t, bob, vic.id, { role: "support" })).status, 200);
    assert.equal((await approve(t, bob, vic.id, outdated.id)).status, 409);
    assert.equal(await roleOf(t, vic.id), "support");
    assert.equal(
      (await approve(t, bob, alice.id, outdated.id)).status,
      404,
      "grant of another admin",
    );
  });
});
