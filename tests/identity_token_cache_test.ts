import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";

const cli = systemContext("cli");

// authenticate() remembers which admin a token hash belongs to; these show that
// whether the token still works is decided by the admin record on every request.

Deno.test("a token already in use is refused on the very next request after rotation", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "viewer");
    for (let i = 0; i < 3; i++) {
      const res = await t.app.request("/api/admin/me", { headers: authHeaders(admin) });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    const { token } = await t.services.identity.rotateToken(cli, admin.id);
    const old = await t.app.request("/api/admin/me", { headers: authHeaders(admin) });
    assert.equal(old.status, 401);
    assert.match((await old.json()).detail, /rotated, revoked or never issued/);
    const fresh = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(fresh.status, 200);
    assert.equal((await fresh.json()).id, admin.id);
  });
});

Deno.test("a role change applies to a token already in use on its next request", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "viewer");
    const before = await t.app.request("/api/admin/payments/transactions", {
      headers: authHeaders(admin),
    });
    assert.equal(before.status, 200);
    await before.body?.cancel();
    await t.services.identity.updateAdmin(cli, admin.id, { role: "auditor" });
    const after = await t.app.request("/api/admin/payments/transactions", {
      headers: authHeaders(admin),
    });
    assert.equal(after.status, 403, "auditors do not read transactions");
    await after.body?.cancel();
  });
});
