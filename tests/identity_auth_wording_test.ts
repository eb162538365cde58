/**
 * Authentication refusals name the problem the request has (README, "Accounts and
 * enrollment"): an Authorization header sent twice or holding two credentials, a token with a
 * character tokens never hold (counted in characters, not in the bytes it came as), a reset's
 * code sent with another account's token, and the admin a pending disable acts on rejecting it.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  createAdmins,
  otpHeaders,
  sendJson,
} from "./helpers/identity.ts";

async function me(t: TestApp, headers: Headers) {
  const res = await t.app.request("/api/admin/me", { headers });
  return { status: res.status, body: await res.json() };
}

Deno.test("an Authorization header sent twice, or holding two bearer credentials, is refused as such, not as no bearer token", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const twice = new Headers();
    twice.append("authorization", `Bearer ${admin.token}`);
    twice.append("authorization", "Bearer x");
    const joined = new Headers({ authorization: `Bearer ${admin.token}, Bearer x` });
    const same = new Headers();
    same.append("authorization", `Bearer ${admin.token}`);
    same.append("authorization", `Bearer ${admin.token}`);
    for (const headers of [twice, joined, same]) {
      const refused = await me(t, headers);
      assert.equal(refused.status, 401, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "unauthenticated");
      const detail = String(refused.body.detail);
      assert.doesNotMatch(detail, /not a bearer token/, detail);
      assert.match(detail, /more than one credential/, detail);
      assert.match(detail, /twice/, detail);
    }
  });
});

Deno.test("a token with a character tokens never hold is said so, its length counted in characters", async () => {
  await withTestApp(async (t) => {
    const rest = "A".repeat(43);
    // as typed, and as a socket delivers it (its UTF-8 bytes, each read as one character)
    for (const value of [`Bearer pot_ö${rest}`, `Bearer pot_\u00c3\u00b6${rest}`]) {
      const refused = await me(t, new Headers({ authorization: value }));
      assert.equal(refused.status, 401, JSON.stringify(refused.body));
      const detail = String(refused.body.detail);
      assert.doesNotMatch(detail, /this one is 45/, detail);
      assert.ok(detail.includes("ö"), `names the character: ${detail}`);
      assert.match(detail, /never hold/, detail);
    }
    // a plain short token is still counted
    const short = await me(t, new Headers({ authorization: `Bearer pot_${"A".repeat(40)}` }));
    assert.match(String(short.body.detail), /this one is 40/);
  });
});

Deno.test("a reset's code sent with another admin's valid token: the code is another account's, redeemed by its own holder; whose is not said", async () => {
  await withTestApp(async (t) => {
    const [a, b, c, other] = await createAdmins(t, 4);
    const asked = await sendJson(t, "POST", `/api/admin/users/${b.id}/reset-2fa`, otpHeaders(t, a));
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const ok = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${asked.body.id}/approve`,
      otpHeaders(t, c),
      { approval_hash: asked.body.approval_hash },
    );
    const code = ok.body.approval.handover.enrollment_code;
    const refused = await sendJson(t, "POST", "/api/admin/enroll", authHeaders(other), { code });
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
    const detail = String(refused.body.detail);
    assert.match(detail, /another account/, detail);
    assert.match(detail, /own current token/, detail);
    assert.doesNotMatch(detail, /send Authorization/, detail);
    assert.ok(!detail.includes(b.id) && !detail.includes(b.email), `says whose: ${detail}`);
    // its own holder with the header sent twice is told so, not to send one
    const twice = new Headers({ "content-type": "application/json" });
    twice.append("authorization", `Bearer ${b.token}`);
    twice.append("authorization", `Bearer ${b.token}`);
    const doubled = await t.app.request("/api/admin/enroll", {
      method: "POST",
      headers: twice,
      body: JSON.stringify({ code }),
    });
    const doubledBody = await doubled.json();
    assert.equal(doubled.status, 401, JSON.stringify(doubledBody));
    assert.match(String(doubledBody.detail), /more than one credential/, doubledBody.detail);
    // the code still works for its own holder
    const redeemed = await sendJson(t, "POST", "/api/admin/enroll", authHeaders(b), { code });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
  });
});

Deno.test("the admin a pending disable acts on, rejecting it, is refused in words for a reject", async () => {
  await withTestApp(async (t) => {
    const target = await createAdmin(t, "admin");
    const [a, b] = await createAdmins(t, 3);
    const alone = await sendJson(t, "PATCH", `/api/admin/users/${b.id}`, otpHeaders(t, a), {
      status: "disabled",
    });
    assert.equal(alone.status, 200, JSON.stringify(alone.body));
    const asked = await sendJson(t, "PATCH", `/api/admin/users/${target.id}`, otpHeaders(t, a), {
      status: "disabled",
    });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const id = asked.body.pending_approval.id;
    const refused = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${id}/reject`,
      otpHeaders(t, target),
      { note: "no" },
    );
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.code, "self_approval_forbidden");
    const detail = String(refused.body.detail);
    assert.match(detail, /reject/, detail);
    assert.doesNotMatch(detail, /must approve/, detail);
    assert.doesNotMatch(detail, /self-approval/, detail);
  });
});
