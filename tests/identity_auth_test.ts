import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import { permissionsOf } from "../domain/permissions.ts";

const cli = systemContext("cli");

async function problem(res: Response) {
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  return await res.json();
}

Deno.test("authenticate refuses a missing, malformed or unknown bearer token, saying which", async () => {
  await withTestApp(async (t) => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /send Authorization: Bearer/],
      [{ authorization: "Basic dXNlcjpwYXNz" }, /not a bearer token/],
      [{ authorization: "Bearer not-a-token" }, /^unknown token/],
      [{ authorization: `Bearer pot_${"A".repeat(43)}` }, /^unknown token: it was rotated/],
      // the step-up token in the wrong header: say where it goes
      [
        { authorization: `Bearer psu_${"A".repeat(43)}` },
        /step-up token.*X-Step-Up.*Authorization: Bearer pot_/,
      ],
    ];
    for (const [headers, detail] of cases) {
      const res = await t.app.request("/api/admin/me", { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      const body = await problem(res);
      assert.equal(body.code, "unauthenticated");
      assert.match(body.detail, detail);
    }
  });
});

Deno.test("GET /api/admin/me shows id, email, role, permissions and second-factor status", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "analyst", { email: "Ana@Example.com" });
    const res = await t.app.request("/api/admin/me", { headers: authHeaders(admin) });
    assert.equal(res.status, 200);
    const me = await res.json();
    assert.equal(me.id, admin.id);
    assert.match(me.id, /^adm_[0-9A-Z]{26}$/);
    assert.equal(me.email, "ana@example.com", "emails are stored lowercased");
    assert.equal(me.role, "analyst");
    assert.equal(me.status, "active");
    assert.deepEqual(me.permissions, permissionsOf("analyst"));
    assert.ok(
      me.permissions.includes("fraud.triage") && !me.permissions.includes("refunds.create"),
    );
    assert.equal(me.second_factor.enrolled, true);
    assert.equal(me.second_factor.locked_until, null);
    assert.equal(me.second_factor.recovery_codes_remaining, 8);
    assert.equal(me.token_hash, undefined);
  });
});

Deno.test("a disabled admin's token stops working at once, and stays dead when re-enabled (a new one is enrolled)", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "operator");
    assert.equal(
      (await t.app.request("/api/admin/me", { headers: authHeaders(admin) })).status,
      200,
    );
    await t.services.identity.updateAdmin(cli, admin.id, { status: "disabled" });
    const res = await t.app.request("/api/admin/me", { headers: authHeaders(admin) });
    assert.equal(res.status, 401);
    assert.match((await problem(res)).detail, /disabled/);
    const enabled = await t.services.identity.updateAdmin(cli, admin.id, { status: "active" });
    const old = await t.app.request("/api/admin/me", { headers: authHeaders(admin) });
    assert.equal(old.status, 401);
    await old.body?.cancel();
    const meta = { request_id: "req_enroll", ip: null, user_agent: null };
    const redeemed = await t.services.identity.enroll(
      enabled.handover!.enrollment_code,
      meta,
      {},
    );
    const fresh = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${redeemed.token}` },
    });
    assert.equal(fresh.status, 200);
    await fresh.body?.cancel();
  });
});

Deno.test("a rotated token is refused at once; the new one works", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "viewer");
    const { token } = await t.services.identity.rotateToken(cli, admin.id);
    assert.notEqual(token, admin.token);
    const old = await t.app.request("/api/admin/me", { headers: authHeaders(admin) });
    assert.equal(old.status, 401);
    assert.match((await problem(old)).detail, /rotated, revoked or never issued/);
    const fresh = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(fresh.status, 200);
    const actions = (await auditEntries(t.kv)).map((e) => e.action);
    assert.ok(actions.includes("token.rotate"));
  });
});

Deno.test("no token, TOTP secret or recovery code is stored in clear anywhere in KV", async () => {
  await withTestApp(async (t) => {
    const admins = [await createAdmin(t, "admin"), await createAdmin(t, "viewer")];
    const rotated = await t.services.identity.rotateToken(cli, admins[1].id);
    const reset = await t.services.identity.resetSecondFactor(cli, admins[1].id);
    const secrets = [
      ...admins.flatMap((a) => [a.token, a.totpSecret, ...a.recoveryCodes]),
      rotated.token,
      reset.totp_secret,
      ...reset.recovery_codes,
    ];
    let dump = "";
    for await (const e of t.kv.list({ prefix: [] })) {
      dump += JSON.stringify(e.key) +
        JSON.stringify(e.value, (_k, v) => typeof v === "bigint" ? v.toString() : v) + "\n";
    }
    assert.ok(dump.includes(admins[0].id), "the scan does see the admin records");
    for (const s of secrets) {
      assert.ok(!dump.includes(s), `found a clear secret in KV: ${s.slice(0, 6)}…`);
      assert.ok(!dump.toLowerCase().includes(s.toLowerCase()));
    }
  });
});

Deno.test("a role without the permission gets 403 naming it and the roles that have it, audited", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const res = await t.app.request("/api/admin/users", { headers: authHeaders(viewer) });
    assert.equal(res.status, 403);
    const body = await problem(res);
    assert.equal(body.code, "forbidden");
    assert.match(body.detail, /users\.read/);
    assert.deepEqual(body.roles, ["admin"]);
    assert.equal(body.permission, "users.read");
    const denied = (await auditEntries(t.kv)).filter((e) => e.action === "auth.forbidden");
    assert.equal(denied.length, 1);
    assert.equal(denied[0].result, "denied");
    assert.equal(denied[0].actor.id, viewer.id);
    assert.equal(denied[0].target?.id, "users.read");
  });
});

Deno.test("the API throttle allows 120 requests a minute per token, then 429 with Retry-After", async () => {
  await withTestApp(async (t) => {
    t.clock.set(Date.UTC(2026, 10, 26, 9, 0, 0)); // the start of a window
    const a = await createAdmin(t, "viewer");
    const b = await createAdmin(t, "viewer");
    for (let i = 0; i < 120; i++) {
      const res = await t.app.request("/api/admin/me", { headers: authHeaders(a) });
      assert.equal(res.status, 200, `request ${i + 1}`);
    }
    t.clock.advance(20_000);
    const limited = await t.app.request("/api/admin/me", { headers: authHeaders(a) });
    assert.equal(limited.status, 429);
    assert.equal((await problem(limited)).code, "rate_limited");
    assert.equal(limited.headers.get("retry-after"), "40");
    const other = await t.app.request("/api/admin/me", { headers: authHeaders(b) });
    assert.equal(other.status, 200, "another token has its own budget");
    t.clock.advance(40_000);
    const next = await t.app.request("/api/admin/me", { headers: authHeaders(a) });
    assert.equal(next.status, 200, "a new window starts afresh");
  });
});
