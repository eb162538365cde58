/**
 * Every identity refusal names the problem and the fix in words (README,
 * "API": errors say what happened and what to do).
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  currentOtp,
  jsonRequest,
  sendJson,
  stepUpHeaders,
} from "./helpers/identity.ts";

Deno.test("wording: a disabled account's token says it is disabled and how it comes back", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const viewer = await createAdmin(t, "viewer");
    const headers = await stepUpHeaders(t, admin);
    const off = await sendJson(t, "PATCH", `/api/admin/users/${viewer.id}`, headers, {
      status: "disabled",
    });
    assert.equal(off.status, 200);
    const res = await sendJson(t, "GET", "/api/admin/me", authHeaders(viewer));
    assert.equal(res.status, 401);
    assert.match(res.body.detail, /disabled/);
    assert.match(res.body.detail, /ask an admin to re-enable it/i);
    assert.match(res.body.detail, /enrollment code/);
  });
});

Deno.test("wording: an email that has an account names it, who made it and when, and what to do", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, admin);
    const body = { email: "taken@example.com", role: "viewer" };
    const first = await sendJson(t, "POST", "/api/admin/users", headers, body);
    assert.equal(first.status, 201);
    const again = await sendJson(t, "POST", "/api/admin/users", headers, body);
    assert.equal(again.status, 409);
    const detail: string = again.body.detail;
    assert.match(detail, new RegExp(first.body.admin.id));
    assert.match(detail, new RegExp(`created by ${admin.id} at ${first.body.admin.created_at}`));
    assert.match(detail, /shown once/);
    assert.match(detail, /PATCH \/api\/admin\/users\//);
  });
});

Deno.test("wording: a locked second factor says until when, what to do, and that someone may hold the token", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const right = currentOtp(admin.totpSecret, t.clock);
    const wrong = right === "000000" ? "111111" : "000000";
    let last = { status: 0, body: { code: "", detail: "" } };
    for (let i = 0; i < 5; i++) {
      const res = await t.app.request(
        "/api/admin/step-up",
        jsonRequest("POST", authHeaders(admin), { code: wrong }),
      );
      last = { status: res.status, body: await res.json() };
    }
    assert.equal(last.body.code, "otp_locked");
    assert.match(last.body.detail, /locked until \d{4}-/);
    assert.match(last.body.detail, /retry after then/);
    assert.match(last.body.detail, /if you did not send those codes, someone holds your token/i);
  });
});

Deno.test("wording: an address past its failed authentications is told what counts and when to retry", async () => {
  await withTestApp(async (t) => {
    const wrong = { headers: { authorization: `Bearer pot_${"x".repeat(43)}` } };
    const from = { remoteAddr: { hostname: "192.0.2.90" } };
    let last: Response | null = null;
    for (let i = 0; i < 31; i++) {
      last = await t.app.request("/api/admin/me", wrong, from);
      if (i < 30) await last.body?.cancel();
    }
    const body = await last!.json();
    assert.equal(body.code, "rate_limited");
    assert.match(body.detail, /more than 30 failed authentications/);
    assert.match(body.detail, /check the token or code you send/);
    assert.match(body.detail, /retry in \d+ s/);
  });
});
