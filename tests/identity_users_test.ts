import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { auditEntries, authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";
import { otpHeaders } from "./helpers/identity.ts";
import { createDemoAdmin } from "../services/identity/service.ts";
import { totpCode } from "../services/identity/totp.ts";

function patchUser(t: TestApp, actor: TestAdmin, id: string, body: unknown) {
  return t.app.request(`/api/admin/users/${id}`, jsonRequest("PATCH", otpHeaders(t, actor), body));
}

async function roleOf(t: TestApp, id: string) {
  return (await t.services.identity.getAdmin(id)).role;
}

Deno.test("POST /api/admin/users creates an account that enrolls itself with a code (no credentials in the answer)", async () => {
  await withTestApp(async (t) => {
    const boss = await createAdmin(t, "admin");
    const res = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", otpHeaders(t, boss), { email: " Ops@Example.COM ", role: "analyst" }),
    );
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = await res.json();
    assert.equal(body.admin.email, "ops@example.com");
    assert.equal(body.admin.role, "analyst");
    assert.equal(body.admin.created_by, boss.id);
    assert.equal(body.token, undefined);
    assert.equal(body.totp_secret, undefined);
    assert.equal(body.approval, null);
    assert.match(body.enrollment_code, /^enr_/);

    const enrolled = await t.app.request(
      "/api/admin/enroll",
      jsonRequest("POST", {}, { code: body.enrollment_code }),
    );
    assert.equal(enrolled.status, 200);
    const creds = await enrolled.json();
    assert.match(creds.token, /^pot_[A-Za-z0-9_-]{43}$/);
    assert.match(creds.otpauth_uri, /^otpauth:\/\/totp\//);
    assert.equal(creds.recovery_codes.length, 8);
    const me = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${creds.token}` },
    });
    assert.equal((await me.json()).role, "analyst");
    const step = await t.app.request("/api/admin/step-up", {
      ...jsonRequest("POST", { authorization: `Bearer ${creds.token}` }, {
        code: totpCode(creds.totp_secret, t.clock.now()),
      }),
    });
    assert.equal(step.status, 200, "the TOTP secret shown works");
    const again = await t.app.request(
      "/api/admin/enroll",
      jsonRequest("POST", {}, { code: body.enrollment_code }),
    );
    // used already: 401 enrollment_invalid saying when, not as an unknown code (README,
    // "Accounts and enrollment"), and what to do: ask for a new code
    assert.equal(again.status, 401);
    const refused = await again.json();
    assert.equal(refused.code, "enrollment_invalid");
    assert.match(refused.detail, /redeemed at \d{4}-\d\d-\d\dT/);
    assert.match(refused.detail, /ask an admin for a new (one|code)/);
    assert.equal(refused.redeemed_at, refused.detail.match(/redeemed at (\S+?);/)[1]);
    // and the document says so: a used code is one of the 401s, and the route has no 409
    const doc = await (await t.app.request("/openapi.json")).json();
    const responses = doc.paths["/api/admin/enroll"].post.responses;
    assert.match(responses["401"].description, /enrollment_invalid/);
    assert.equal(responses["409"], undefined);

    const entry = (await auditEntries(t.kv)).find((e) =>
      e.action === "user.create" && e.actor.id === boss.id
    );
    assert.ok(entry);
    assert.equal(entry.target?.id, body.admin.id);
    const after = entry.after as Record<string, unknown>;
    assert.equal(after.role, "analyst");
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
    const missing = await patchUser(t, boss, "adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", { role: "viewer" });
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

Deno.test("attack: a typo in the email on POST /api/admin/users is 422 before the TOTP code is spent", async () => {
  await withTestApp(async (t) => {
    const boss = await createAdmin(t, "admin");
    const headers = otpHeaders(t, boss);
    for (const email of ["ops@example", "ops example.com", "@example.com", "ops@@example.com"]) {
      const typo = await t.app.request(
        "/api/admin/users",
        jsonRequest("POST", headers, { email, role: "viewer" }),
      );
      assert.equal(typo.status, 422, email);
      const body = await typo.json();
      assert.equal(body.code, "validation_failed");
      assert.deepEqual(body.errors.map((e: { path: string }) => e.path), ["body.email"]);
    }
    // the same code still works: it was not spent on the typos
    const fixed = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", headers, { email: " Ops@Example.com ", role: "viewer" }),
    );
    assert.equal(fixed.status, 201);
    assert.equal((await fixed.json()).admin.email, "ops@example.com");
  });
});
