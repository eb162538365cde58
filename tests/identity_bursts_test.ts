/**
 * Bursts and second clicks on the identity routes (README, "Accounts and
 * enrollment"): of a burst exactly one credential is issued and audited; the
 * same person's repeat answers the first result where that result holds no
 * secret, and is a 409 saying what happened where it did.
 */
import assert from "node:assert/strict";
import { createIsolateOf, type TestApp, withTestApp } from "./helpers/app.ts";
import {
  accountMadeBy,
  auditEntries,
  authHeaders,
  createAdmin,
  currentOtp,
  jsonRequest,
  otpHeaders,
  sendJson,
  stepUpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";

/** The failed-authentication counts kept for every address (none should move). */
async function failureCounts(kv: Deno.Kv): Promise<number> {
  let n = 0;
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["rate_windows", "auth_failures"] })) {
    n += Number(e.value.value);
  }
  return n;
}

/** A viewer made by `admin` through the API: its single-use enrollment code. */
async function viewerCode(t: TestApp, admin: TestAdmin): Promise<string> {
  const made = await sendJson(t, "POST", "/api/admin/users", otpHeaders(t, admin), {
    email: `v-${crypto.randomUUID().slice(0, 8)}@example.com`,
    role: "viewer",
  });
  assert.equal(made.status, 201);
  return made.body.enrollment_code;
}

Deno.test("burst: one enrollment code sent 20 times at once issues one token, audited once; the rest are 401 enrollment_invalid saying it was redeemed", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const code = await viewerCode(t, admin);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => sendJson(t, "POST", "/api/admin/enroll", {}, { code })),
    );
    const ok = answers.filter((a) => a.status === 200);
    assert.equal(ok.length, 1, "exactly one redemption");
    assert.match(ok[0].body.token, /^pot_/);
    for (const a of answers.filter((a) => a.status !== 200)) {
      assert.equal(a.status, 401);
      assert.equal(a.body.code, "enrollment_invalid");
      assert.match(a.body.redeemed_at, /^2026-11-26T09:00:\d\d\.\d{3}Z$/);
      assert.match(a.body.detail, /redeemed at 2026-11-26T09:00:\d\d\.\d{3}Z/);
      assert.match(a.body.detail, /shown once/);
    }
    const enrolled = (await auditEntries(t.kv)).filter((e) => e.action === "user.enroll");
    assert.equal(enrolled.length, 1);
    // a code that was real is no guess: the address keeps its whole budget
    assert.equal(await failureCounts(t.kv), 0);

    // sent again later (a second click after the answer): the same answer, not "unknown", and
    // still not counted against the address
    const again = await sendJson(t, "POST", "/api/admin/enroll", {}, { code });
    assert.equal(again.status, 401);
    assert.equal(again.body.code, "enrollment_invalid");
    assert.match(again.body.detail, /redeemed at/);
    assert.equal(await failureCounts(t.kv), 0);
    const me = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${ok[0].body.token}` },
    });
    assert.equal(me.status, 200, "the one token issued works");
  });
});

Deno.test("burst: a token handover redeemed twice at once with the same TOTP code: one token, the other says redeemed (not 'code already used')", async () => {
  await withTestApp(async (t) => {
    const [a, b, c] = [
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
    ];
    const asked = await sendJson(
      t,
      "POST",
      `/api/admin/users/${b.id}/rotate-token`,
      otpHeaders(t, a),
    );
    assert.equal(asked.status, 202);
    const approved = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${asked.body.id}/approve`,
      otpHeaders(t, c),
      { approval_hash: asked.body.approval_hash },
    );
    assert.equal(approved.status, 200);
    const code = approved.body.approval.handover.enrollment_code;
    const otp = otpHeaders(t, b)["x-otp-code"];
    const answers = await Promise.all(
      [0, 1].map(() => sendJson(t, "POST", "/api/admin/enroll", { "x-otp-code": otp }, { code })),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401]);
    const lost = answers.find((a) => a.status === 401)!;
    assert.equal(lost.body.code, "enrollment_invalid");
    assert.match(lost.body.detail, /redeemed at/);
    assert.equal(
      (await auditEntries(t.kv)).filter((e) => e.action === "user.enroll").length,
      1,
    );
  });
});

Deno.test("burst: one TOTP code sent to step-up 8 times across two isolates on one KV gives one step-up token", async () => {
  await withTestApp(async (t) => {
    const other = await createIsolateOf(t);
    try {
      const admin = await createAdmin(t, "admin");
      const code = currentOtp(admin.totpSecret, t.clock);
      const answers = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
        const app = (i % 2 === 0 ? t : other).app;
        const res = await app.request(
          "/api/admin/step-up",
          jsonRequest("POST", authHeaders(admin), { code }),
        );
        return { status: res.status, body: await res.json() };
      }));
      assert.equal(answers.filter((a) => a.status === 200).length, 1, "one step-up token");
      for (const a of answers.filter((a) => a.status !== 200)) {
        assert.equal(a.status, 401);
        assert.equal(a.body.code, "otp_replayed");
        assert.match(a.body.detail, /sent this request twice/);
      }
      const issued = (await auditEntries(t.kv)).filter((e) => e.action === "auth.step_up");
      assert.equal(issued.length, 1);
      // the accepted code stays spent for the rest of its window, on either isolate
      t.clock.advance(20_000);
      for (const app of [t.app, other.app]) {
        const res = await app.request(
          "/api/admin/step-up",
          jsonRequest("POST", authHeaders(admin), { code }),
        );
        assert.equal(res.status, 401);
        assert.equal((await res.json()).code, "otp_replayed");
      }
    } finally {
      await other.close();
    }
  }, { file: true });
});

Deno.test("burst: your own token rotated twice at once: one new token, the other 409 saying it was rotated; the old one stops", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, admin);
    const answers = await Promise.all(
      [0, 1].map(() => sendJson(t, "POST", "/api/admin/me/rotate-token", headers)),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409]);
    const lost = answers.find((a) => a.status === 409)!;
    assert.equal(lost.body.code, "conflict");
    assert.match(lost.body.detail, /rotated by another request of yours at /);
    assert.match(lost.body.detail, /that answer carries the new token/);
    const won = answers.find((a) => a.status === 200)!;
    const live = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${won.body.token}` },
    });
    assert.equal(live.status, 200);
    const old = await t.app.request("/api/admin/me", { headers: authHeaders(admin) });
    assert.equal(old.status, 401);
    assert.match((await old.json()).detail, /a rotation's answer carries the new one/);
    const rotations = (await auditEntries(t.kv)).filter((e) => e.action === "token.rotate");
    assert.deepEqual(rotations.map((e) => e.result).sort(), ["denied", "ok"]);
  });
});

Deno.test("second click: the same account change sent twice at once answers the account twice, written and audited once", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    // not yet enrolled, made by the admin: re-enabled at once by them (README, "Accounts and
    // enrollment"); an enrolled one waits for a third person
    const viewer = await accountMadeBy(t, admin, "viewer");
    const headers = await stepUpHeaders(t, admin);
    const path = `/api/admin/users/${viewer.id}`;
    for (const change of [{ role: "support" }, { status: "disabled" }, { status: "active" }]) {
      const answers = await Promise.all(
        [0, 1].map(() => sendJson(t, "PATCH", path, headers, change)),
      );
      assert.deepEqual(answers.map((a) => a.status), [200, 200], JSON.stringify(change));
      const [x, y] = answers.map((a) => a.body.admin);
      assert.deepEqual(x, y, "both answer the account as it stands");
      // a re-enabling's code is shown once: in one answer only
      const handovers = answers.filter((a) => a.body.handover).length;
      assert.equal(handovers, change.status === "active" ? 1 : 0);
    }
    const entries = (await auditEntries(t.kv)).filter((e) => e.target?.id === viewer.id);
    const count = (action: string, result: string) =>
      entries.filter((e) => e.action === action && e.result === result).length;
    assert.equal(count("user.update", "ok"), 1);
    assert.equal(count("user.disable", "ok"), 1);
    assert.equal(count("user.enable", "ok"), 1);
    assert.equal(entries.filter((e) => e.result === "denied").length, 0, "no second click denied");
  });
});

Deno.test("second click: an admin disabled twice at once by the same admin: both 200, one disable, no denial", async () => {
  await withTestApp(async (t) => {
    const [a, b] = [await createAdmin(t, "admin"), await createAdmin(t, "admin")];
    for (let i = 0; i < 2; i++) await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, a);
    const answers = await Promise.all(
      [0, 1].map(() =>
        sendJson(t, "PATCH", `/api/admin/users/${b.id}`, headers, { status: "disabled" })
      ),
    );
    assert.deepEqual(answers.map((x) => x.status), [200, 200]);
    assert.deepEqual(answers.map((x) => x.body.admin.status), ["disabled", "disabled"]);
    const entries = (await auditEntries(t.kv)).filter((e) => e.target?.id === b.id);
    assert.equal(entries.filter((e) => e.action === "user.disable" && e.result === "ok").length, 1);
    assert.equal(entries.filter((e) => e.result === "denied").length, 0);
    const alerts = await sendJson(t, "GET", "/api/admin/payments/ops-alerts", authHeaders(a));
    const disabled = alerts.body.data.filter((x: { kind: string }) => x.kind === "admin_disabled");
    assert.equal(disabled.length, 1, "one ops alert");
  });
});
