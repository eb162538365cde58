/**
 * Admins for route tests: `createAdmin(t, "operator")` gives a token and a
 * TOTP secret; `authHeaders(admin)` authenticates; `otpHeaders(t, admin)`
 * adds a fresh TOTP code (moving the manual clock to the next 30 s step when
 * this admin's current code was already used, since each code works once);
 * `stepUpHeaders(t, admin)` gets an X-Step-Up token for a run of 2FA calls.
 */
import type { Clock, ManualClock } from "../../core/clock.ts";
import { type CallContext, systemContext } from "../../domain/actor.ts";
import type { Role } from "../../domain/permissions.ts";
import type { Services } from "../../services/mod.ts";
import { timeStep, TOTP_PERIOD_S, totpCode } from "../../services/identity/totp.ts";
import type { createApp } from "../../app.ts";
import { iterateEntries } from "../../kv/audit.ts";
import type { AuditEntry } from "../../domain/audit_entry.ts";

export interface TestAdmin {
  id: string;
  email: string;
  role: Role;
  token: string;
  totpSecret: string;
  otpauthUri: string;
  recoveryCodes: string[];
  /** the last TOTP time-step these helpers used for this admin */
  lastOtpStep: number | null;
}

/** What the helpers need from a TestApp (tests/helpers/app.ts). */
export interface IdentityTestApp {
  services: Services;
  clock: ManualClock;
  app?: ReturnType<typeof createApp>;
}

let counter = 0;

/** A fresh active admin of `role`, created as the system actor `test` (no approval needed). */
export async function createAdmin(
  t: IdentityTestApp,
  role: Role = "admin",
  options: { email?: string } = {},
): Promise<TestAdmin> {
  const email = options.email ??
    `${role}-${++counter}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const created = await t.services.identity.createAdmin(systemContext("test"), { email, role });
  return {
    id: created.admin.id,
    email: created.admin.email,
    role,
    token: created.token,
    totpSecret: created.totp_secret,
    otpauthUri: created.otpauth_uri,
    recoveryCodes: created.recovery_codes,
    lastOtpStep: null,
  };
}

/** `n` admins made one after the other (in order, so their ids sort as made). */
export async function createAdmins(t: IdentityTestApp, n: number): Promise<TestAdmin[]> {
  const out: TestAdmin[] = [];
  for (let i = 0; i < n; i++) out.push(await createAdmin(t, "admin"));
  return out;
}

/** The TOTP code for `secret` at the clock's time (`offsetSteps` × 30 s away). */
export function currentOtp(secret: string, clock: Clock, offsetSteps = 0): string {
  return totpCode(secret, clock.now() + offsetSteps * TOTP_PERIOD_S * 1000);
}

export function authHeaders(admin: TestAdmin): Record<string, string> {
  return { authorization: `Bearer ${admin.token}` };
}

/**
 * Bearer + a TOTP code not used before by these helpers for this admin:
 * moves `t.clock` to the start of the next time-step when needed.
 */
export function otpHeaders(t: IdentityTestApp, admin: TestAdmin): Record<string, string> {
  let step = timeStep(t.clock.now());
  if (admin.lastOtpStep !== null && step <= admin.lastOtpStep) {
    t.clock.set((admin.lastOtpStep + 1) * TOTP_PERIOD_S * 1000);
    step = admin.lastOtpStep + 1;
  }
  admin.lastOtpStep = step;
  return { ...authHeaders(admin), "x-otp-code": currentOtp(admin.totpSecret, t.clock) };
}

/** Bearer + X-Step-Up from POST /api/admin/step-up (valid STEP_UP_TTL_S on the manual clock). */
export async function stepUpHeaders(
  t: IdentityTestApp,
  admin: TestAdmin,
): Promise<Record<string, string>> {
  if (!t.app) throw new Error("stepUpHeaders needs the app (createTestApp())");
  const headers = otpHeaders(t, admin);
  const res = await t.app.request("/api/admin/step-up", {
    method: "POST",
    headers: { ...authHeaders(admin), "content-type": "application/json" },
    body: JSON.stringify({ code: headers["x-otp-code"] }),
  });
  if (res.status !== 200) throw new Error(`step-up failed: ${res.status} ${await res.text()}`);
  const body = await res.json() as { step_up_token: string };
  return { ...authHeaders(admin), "x-step-up": body.step_up_token };
}

/** JSON request init with the given headers. */
export function jsonRequest(
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): { method: string; headers: Record<string, string>; body?: string } {
  // A plain shape rather than `RequestInit`: Deno 2.5's type for app.request()
  // (undici's RequestInit) does not accept the global one.
  return {
    method,
    headers: { ...headers, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

/** `path` sent as JSON with `headers`: the status and the parsed body (null when empty). */
export async function sendJson(
  t: Required<IdentityTestApp>,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
) {
  const res = await t.app.request(path, jsonRequest(method, headers, body));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Every audit entry, oldest first (to assert what was recorded). */
export async function auditEntries(kv: Deno.Kv): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const row of iterateEntries(kv)) out.push(row.entry);
  return out;
}

/** PATCH /api/admin/users/{id} as `actor`, with a TOTP code. */
export function patchUser(
  t: Required<IdentityTestApp>,
  actor: TestAdmin,
  id: string,
  body: unknown,
) {
  return t.app.request(`/api/admin/users/${id}`, jsonRequest("PATCH", otpHeaders(t, actor), body));
}

/** PATCH status `disabled` on `id` as `by` (asserted to be done at once). */
export async function disableAdmin(t: Required<IdentityTestApp>, by: TestAdmin, id: string) {
  const res = await patchUser(t, by, id, { status: "disabled" });
  if (res.status !== 200) throw new Error(`disabling ${id}: ${res.status} ${await res.text()}`);
}

/** A `CallContext` for `a` as the routes build it, second factor given. */
export function adminContext(a: TestAdmin): CallContext {
  return {
    actor: { type: "admin", id: a.id, role: a.role },
    request: { request_id: "req_test", ip: "127.0.0.1", user_agent: null },
    second_factor: true,
  };
}

/** Who the admin is now, by role. */
export async function roleOf(t: IdentityTestApp, id: string): Promise<Role> {
  return (await t.services.identity.getAdmin(id)).role;
}

/**
 * An account of `role` that `requester` asked for and `approver` approved
 * (`user.create`), enrolled with the code the approver handed over: whoever
 * redeems it holds the account. It is linked to both (README, "Two-person rules").
 */
export async function approvedAccount(
  t: Required<IdentityTestApp>,
  requester: TestAdmin,
  approver: TestAdmin,
  role: Role,
  email = `${role}-${++counter}-${crypto.randomUUID().slice(0, 8)}@example.com`,
): Promise<TestAdmin> {
  const asked = await sendJson(t, "POST", "/api/admin/users", otpHeaders(t, requester), {
    email,
    role,
  });
  if (asked.status !== 202) throw new Error(`asking for ${email}: ${asked.status}`);
  const approved = await sendJson(
    t,
    "POST",
    `/api/admin/approvals/${asked.body.approval.id}/approve`,
    otpHeaders(t, approver),
    { approval_hash: asked.body.approval.approval_hash },
  );
  const code = approved.body?.approval?.handover?.enrollment_code;
  if (approved.status !== 200 || !code) throw new Error(`approving ${email}: ${approved.status}`);
  const enrolled = await sendJson(t, "POST", "/api/admin/enroll", {}, { code });
  if (enrolled.status !== 200) throw new Error(`enrolling ${email}: ${enrolled.status}`);
  return {
    id: enrolled.body.admin.id,
    email,
    role,
    token: enrolled.body.token,
    totpSecret: enrolled.body.totp_secret,
    otpauthUri: enrolled.body.otpauth_uri,
    recoveryCodes: enrolled.body.recovery_codes,
    lastOtpStep: null,
  };
}

/**
 * An account of a role that cannot approve that `creator` made alone through
 * the API (`201`), not yet enrolled: its id and the code its creator holds.
 * Nobody enrolled it, so its creator alone may re-enable it once disabled
 * (README, "Accounts and enrollment").
 */
export async function accountMadeBy(
  t: Required<IdentityTestApp>,
  creator: TestAdmin,
  role: Role,
): Promise<{ id: string; code: string }> {
  const email = `${role}-${++counter}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const made = await sendJson(t, "POST", "/api/admin/users", otpHeaders(t, creator), {
    email,
    role,
  });
  if (made.status !== 201) throw new Error(`making ${email}: ${made.status}`);
  return { id: made.body.admin.id, code: made.body.enrollment_code };
}

/** The status `GET /api/admin/me` answers `token` (200 while it works, 401 once revoked). */
export async function meStatus(t: { app: { request: TestAppRequest } }, token: string) {
  const res = await t.app.request("/api/admin/me", {
    headers: { authorization: `Bearer ${token}` },
  });
  await res.body?.cancel();
  return res.status;
}

type TestAppRequest = ReturnType<typeof createApp>["request"];
