import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  authHeaders,
  createAdmin,
  jsonRequest,
  otpHeaders,
  patchUser,
  roleOf,
} from "./helpers/identity.ts";
import { createDemoAdmin } from "../services/identity/service.ts";
import { totpCode } from "../services/identity/totp.ts";

Deno.test("POST /api/admin/users creates an admin and shows its credentials once", async () => {
  await withTestApp(async (t) => {
    const boss = await createAdmin(t, "admin");
    const res = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", otpHeaders(t, boss), { email: " Ops@Example.COM ", role: "operator" }),
    );
    assert.equal(res.status, 201);
    const body = await res.json();
    assert.equal(body.admin.email, "ops@example.com");
    assert.equal(body.admin.role, "operator");
    assert.equal(body.admin.created_by, boss.id);
    assert.match(body.token, /^pot_[A-Za-z0-9_-]{43}$/);
    assert.match(body.otpauth_uri, /^otpauth:\/\/totp\//);
    assert.equal(body.recovery_codes.length, 8);
    assert.equal(body.pending_role_grant, null);
    const me = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${body.token}` },
    });
    assert.equal((await me.json()).role, "operator");
    const step = await t.app.request("/api/admin/step-up", {
      ...jsonRequest("POST", { authorization: `Bearer ${body.token}` }, {
        code: totpCode(body.totp_secret, t.clock.now()),
      }),
    });
    assert.equal(step.status, 200, "the TOTP secret shown works");

    const entry = (await auditEntries(t.kv)).find((e) =>
      e.action === "user.create" && e.actor.id === boss.id
    );
    assert.ok(entry);
    assert.equal(entry.target?.id, body.admin.id);
    const after = entry.after as Record<string, unknown>;
    assert.equal(after.role, "operator");
    assert.notEqual(after.email, "ops@example.com", "emails are masked in the audit log");

    const dup = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", otpHeaders(t, boss), { email: "OPS@example.com", role: "viewer" }),
    );
    assert.equal(dup.status, 409);
    assert.equal((await dup.json()).code, "conflict");
  });
});

Deno.test("an unknown role is 422 naming body.role, on create and on change", async () => {
  await withTestApp(async (t) => {
    const boss = await createAdmin(t, "admin");
    const other = await createAdmin(t, "viewer");
    const created = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", otpHeaders(t, boss), { email: "x@example.com", role: "superuser" }),
    );
    assert.equal(created.status, 422);
    const body = await created.json();
    assert.equal(body.code, "validation_failed");
    assert.deepEqual(body.errors.map((e: { path: string }) => e.path), ["body.role"]);
    const changed = await patchUser(t, boss, other.id, { role: "root" });
    assert.equal(changed.status, 422);
    assert.equal((await changed.json()).errors[0].path, "body.role");
  });
});

Deno.test("GET /api/admin/users pages through every admin with sealed cursors", async () => {
  await withTestApp(async (t) => {
    const boss = await createAdmin(t, "admin");
    for (let i = 0; i < 4; i++) {
      await createAdmin(t, "viewer");
      t.clock.advance(1);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const res = await t.app.request(`/api/admin/users?limit=2${q}`, {
        headers: authHeaders(boss),
      });
      assert.equal(res.status, 200);
      const page = await res.json();
      assert.ok(page.data.length <= 2);
      for (const a of page.data) {
        assert.equal(a.token_hash, undefined);
        seen.push(a.id);
      }
      cursor = page.next_cursor;
    } while (cursor);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 5);
    assert.equal(seen[4], boss.id, "newest first");
    const bad = await t.app.request("/api/admin/users?cursor=forged", {
      headers: authHeaders(boss),
    });
    assert.equal(bad.status, 422);
  });
});

Deno.test("PATCH changes another admin's role and status, audited with before and after", async () => {
  await withTestApp(async (t) => {
    const boss = await createAdmin(t, "admin");
    const target = await createAdmin(t, "viewer");
    const res = await patchUser(t, boss, target.id, { role: "analyst" });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).admin.role, "analyst");
    const disabled = await patchUser(t, boss, target.id, { status: "disabled" });
    assert.equal((await disabled.json()).admin.status, "disabled");
    const me = await t.app.request("/api/admin/me", { headers: authHeaders(target) });
    assert.equal(me.status, 401);
    const entries = await auditEntries(t.kv);
    const update = entries.find((e) => e.action === "user.update");
    assert.deepEqual(update?.before, { role: "viewer" });
    assert.deepEqual(update?.after, { role: "analyst" });
    assert.equal(update?.second_factor, true);
    const disable = entries.find((e) => e.action === "user.disable");
    assert.deepEqual(disable?.after, { status: "disabled" });
    const missing = await patchUser(t, boss, "adm_missing", { role: "viewer" });
    assert.equal(missing.status, 404);
  });
});

Deno.test("an admin cannot change their own role or disable themselves (403, audited)", async () => {
  await withTestApp(async (t) => {
    const boss = await createAdmin(t, "admin");
    for (const body of [{ role: "viewer" }, { status: "disabled" }]) {
      const res = await patchUser(t, boss, boss.id, body);
      assert.equal(res.status, 403);
      const p = await res.json();
      assert.equal(p.code, "forbidden");
      assert.match(p.detail, /yourself/);
    }
    assert.equal(await roleOf(t, boss.id), "admin");
    const denied = (await auditEntries(t.kv)).filter((e) =>
      e.action === "user.update" && e.result === "denied"
    );
    assert.equal(denied.length, 2);
  });
});

Deno.test("rotate-token and reset-2fa routes return the new secrets once", async () => {
  await withTestApp(async (t) => {
    const boss = await createAdmin(t, "admin");
    const target = await createAdmin(t, "viewer");
    const rotated = await t.app.request(
      `/api/admin/users/${target.id}/rotate-token`,
      jsonRequest("POST", otpHeaders(t, boss)),
    );
    assert.equal(rotated.status, 200);
    const { token } = await rotated.json();
    assert.equal(
      (await t.app.request("/api/admin/me", { headers: authHeaders(target) })).status,
      401,
    );
    assert.equal(
      (await t.app.request("/api/admin/me", { headers: { authorization: `Bearer ${token}` } }))
        .status,
      200,
    );
    const reset = await t.app.request(
      `/api/admin/users/${target.id}/reset-2fa`,
      jsonRequest("POST", otpHeaders(t, boss)),
    );
    assert.equal(reset.status, 200);
    const body = await reset.json();
    assert.notEqual(body.totp_secret, target.totpSecret);
    assert.equal(body.recovery_codes.length, 8);
  });
});

Deno.test("createDemoAdmin() makes demo@example.com only when no admin exists", async () => {
  await withTestApp(async (t) => {
    const demo = await createDemoAdmin(t.services);
    assert.ok(demo);
    assert.equal(demo.admin.email, "demo@example.com");
    assert.equal(demo.admin.role, "admin");
    assert.match(demo.token, /^pot_/);
    assert.equal(await createDemoAdmin(t.services), null);
    const me = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${demo.token}` },
    });
    assert.equal((await me.json()).role, "admin");
  });
});
