/**
 * A second factor locked after 5 wrong codes (README, "Throttles") is logged
 * as a warning, as the address throttle is: once per lockout (the attempt
 * that locks it), naming the admin, the request and until when, never a code.
 * The attempts refused while it stays locked add no line.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, currentOtp, type TestAdmin } from "./helpers/identity.ts";

const LOCKED = "second factor locked";

function wrongCode(t: TestApp, admin: TestAdmin): string {
  return String((Number(currentOtp(admin.totpSecret, t.clock)) + 500_000) % 1_000_000)
    .padStart(6, "0");
}

async function stepUp(t: TestApp, admin: TestAdmin, code: string) {
  const res = await t.app.request("/api/admin/step-up", {
    method: "POST",
    headers: { ...authHeaders(admin), "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
  const body = await res.json();
  return {
    status: res.status,
    code: body.code as string,
    requestId: res.headers.get("x-request-id"),
  };
}

function lockLines(t: TestApp, adminId: string) {
  return t.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === LOCKED && l.admin_id === adminId);
}

Deno.test("a lockout of the second factor logs one warning with admin, request and until when", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const codes: string[] = [];
    let last = null as Awaited<ReturnType<typeof stepUp>> | null;
    for (let i = 0; i < 5; i++) {
      const code = wrongCode(t, admin);
      codes.push(code);
      last = await stepUp(t, admin, code);
      t.clock.advance(5_000);
    }
    assert.equal(last!.code, "otp_locked");
    const lines = lockLines(t, admin.id);
    assert.equal(lines.length, 1, JSON.stringify(t.logs));
    assert.equal(lines[0].level, "warn");
    assert.equal(lines[0].request_id, last!.requestId);
    assert.match(lines[0].locked_until, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(lines[0].failures, 5);
    for (const code of codes) assert.ok(!JSON.stringify(lines[0]).includes(code), "no code logged");

    // refused while locked, a right code too: no further line
    for (let i = 0; i < 3; i++) {
      const refused = await stepUp(t, admin, currentOtp(admin.totpSecret, t.clock));
      assert.equal(refused.code, "otp_locked");
    }
    assert.equal(lockLines(t, admin.id).length, 1);
  });
});

Deno.test("a burst of wrong codes that locks the factor logs the lockout once", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    for (let i = 0; i < 3; i++) await stepUp(t, admin, wrongCode(t, admin));
    const burst = await Promise.all(
      Array.from({ length: 6 }, () => stepUp(t, admin, wrongCode(t, admin))),
    );
    assert.ok(burst.some((r) => r.code === "otp_locked"));
    assert.equal(lockLines(t, admin.id).length, 1, JSON.stringify(t.logs));
  });
});
