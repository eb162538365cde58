/**
 * Whether a change to an account needs a second admin is judged on the
 * account as read; a concurrent change landing before the commit must make
 * the commit a conflict, never carry the old judgement (README, "Two-person
 * rules", "Accounts and enrollment"). And one request of each kind waits for
 * an account at a time, however many arrive at once.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  createAdmin,
  jsonRequest,
  stepUpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import type { TestApp } from "./helpers/app.ts";

function patch(t: TestApp, headers: Record<string, string>, id: string, body: unknown) {
  return t.app.request(`/api/admin/users/${id}`, jsonRequest("PATCH", headers, body));
}

async function pendingFor(t: TestApp, kind: string, id: string): Promise<number> {
  const page = await t.services.approvals.list({ status: "pending", kind, limit: 100 });
  return page.data.filter((r) => r.payload.admin_id === id).length;
}

Deno.test("attack: a burst of re-enables racing a disable never re-enables an operator alone nor hands its code to the rogue", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const target: TestAdmin = await createAdmin(t, "operator");
    const headers = await stepUpHeaders(t, rogue);
    for (let round = 0; round < 8; round++) {
      const answers = await Promise.all([
        ...Array.from({ length: 15 }, () => patch(t, headers, target.id, { status: "active" })),
        patch(t, headers, target.id, { status: "disabled" }),
        ...Array.from({ length: 15 }, () => patch(t, headers, target.id, { status: "active" })),
      ]);
      for (const res of answers) {
        const body = await res.json();
        assert.ok(!body.handover, `round ${round}: ${res.status} ${JSON.stringify(body)}`);
        assert.ok([200, 202, 409].includes(res.status), `${res.status} ${JSON.stringify(body)}`);
      }
      // whatever the order, the operator is disabled or was never re-enabled by the rogue
      const now = await t.services.identity.getAdmin(target.id);
      if (now.status === "disabled") {
        await t.services.identity.updateAdmin(systemContext("cli"), target.id, {
          status: "active",
        });
      }
    }
    const byRogue = (await auditEntries(t.kv)).filter((e) =>
      e.action === "user.enable" && e.actor.id === rogue.id && e.result === "ok"
    );
    assert.deepEqual(byRogue, []);
  }, { env: { API_RATE_LIMIT_PER_MIN: "100000" } });
});

Deno.test("attack: bursts of role grants, re-enablings and credential resets for one account leave one pending request of each kind, which each answers", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const viewer = await createAdmin(t, "viewer");
    const disabled = await createAdmin(t, "operator");
    const other = await createAdmin(t, "operator");
    const headers = await stepUpHeaders(t, a);
    assert.equal((await patch(t, headers, disabled.id, { status: "disabled" })).status, 200);
    const burst = (n: number, send: () => Response | Promise<Response>) =>
      Promise.all(Array.from({ length: n }, send)).then((all) =>
        Promise.all(all.map(async (r) => ({ status: r.status, body: await r.json() })))
      );
    const post = (path: string) => () => t.app.request(path, jsonRequest("POST", headers, {}));
    const grants = await burst(10, () => patch(t, headers, viewer.id, { role: "operator" }));
    const reactivations = await burst(
      10,
      () => patch(t, headers, disabled.id, { status: "active" }),
    );
    const rotations = await burst(10, post(`/api/admin/users/${other.id}/rotate-token`));
    const resets = await burst(10, post(`/api/admin/users/${other.id}/reset-2fa`));
    for (
      const [kind, id, answers] of [
        ["user.role_grant", viewer.id, grants],
        ["user.reactivate", disabled.id, reactivations],
        ["user.rotate_token", other.id, rotations],
        ["user.reset_2fa", other.id, resets],
      ] as const
    ) {
      // one admin's burst is one request sent again: each answers the one request
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(10).fill(202),
        `${kind}: ${JSON.stringify(answers.map((a) => a.body.detail))}`,
      );
      const ids = new Set(answers.map((a) => a.body.pending_approval?.id ?? a.body.id));
      assert.equal(ids.size, 1, kind);
      assert.equal(await pendingFor(t, kind, id), 1, kind);
    }
  });
});

Deno.test("attack: no account is made at once for an email whose operator request waits for its approver", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, a);
    const create = (role: string) =>
      t.app.request(
        "/api/admin/users",
        jsonRequest("POST", headers, { email: "opx@example.com", role }),
      );
    const asked = await create("operator");
    assert.equal(asked.status, 202);
    await asked.body?.cancel();
    const viewer = await create("viewer");
    assert.equal(viewer.status, 409);
    const body = await viewer.json();
    assert.match(body.detail, /a request to create opx@example.com is already pending/);
    assert.match(body.approval_id, /^apr_/);
  });
});

Deno.test("a PATCH that disables an account and grants it an approving role is 409, and changes nothing", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const v = await createAdmin(t, "viewer");
    const headers = await stepUpHeaders(t, a);
    const res = await patch(t, headers, v.id, { status: "disabled", role: "operator" });
    assert.equal(res.status, 409);
    assert.match((await res.json()).detail, /cannot both stand; send one of them/);
    const now = await t.services.identity.getAdmin(v.id);
    assert.deepEqual([now.status, now.role], ["active", "viewer"]);
    assert.equal(await pendingFor(t, "user.role_grant", v.id), 0);
  });
});
