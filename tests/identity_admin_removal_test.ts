/**
 * One admin alone cannot lock every other admin out (README, "Accounts and
 * enrollment", "Two-person rules"): disabling or demoting another admin is
 * immediate for the first one in a rolling 24 h of an admin and the accounts
 * linked to them; a further one is a pending `user.disable` / `user.demote`
 * request for an unlinked admin to approve, whatever the tabs, bursts or
 * isolates; and none may leave no active admin outside the actor and the
 * accounts linked to them. Each one that lands raises an ops alert.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  adminContext,
  approvedAccount,
  auditEntries,
  authHeaders,
  createAdmin,
  createAdmins,
  jsonRequest,
  otpHeaders,
  stepUpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import { createServices } from "../services/mod.ts";
import { addRemovalAlone, getRemovalsAlone } from "../kv/admins.ts";

const DAY_MS = 24 * 3600_000;

async function patch(t: TestApp, headers: Record<string, string>, id: string, body: unknown) {
  const res = await t.app.request(`/api/admin/users/${id}`, jsonRequest("PATCH", headers, body));
  return { status: res.status, body: await res.json() };
}

const disable = (t: TestApp, by: TestAdmin, id: string) =>
  patch(t, otpHeaders(t, by), id, { status: "disabled" });

async function statusOf(t: TestApp, a: TestAdmin): Promise<string> {
  return (await t.services.identity.getAdmin(a.id)).status;
}

async function removalAlerts(t: TestApp) {
  const page = await t.services.opsAlerts.list({ limit: 100 });
  return page.data.filter((a) => a.kind === "admin_disabled" || a.kind === "admin_demoted");
}

Deno.test("attack: an admin's second disable or demotion of an admin within 24 h waits for a second admin; the first is immediate", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const [a, b, c, d] = await createAdmins(t, 4);
    const first = await disable(t, rogue, a.id);
    const firstAt = t.clock.now();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.admin.status, "disabled");
    assert.equal((await t.app.request("/api/admin/me", { headers: authHeaders(a) })).status, 401);

    const second = await disable(t, rogue, b.id);
    assert.equal(second.status, 202, JSON.stringify(second.body));
    assert.equal(second.body.admin.status, "active");
    assert.equal(second.body.pending_approval.kind, "user.disable");
    assert.equal(second.body.pending_approval.payload.admin_id, b.id);
    assert.equal(await statusOf(t, b), "active");
    const demote = await patch(t, otpHeaders(t, rogue), c.id, { role: "operator" });
    assert.equal(demote.status, 202, JSON.stringify(demote.body));
    assert.equal(demote.body.pending_approval.kind, "user.demote");
    assert.equal((await t.services.identity.getAdmin(c.id)).role, "admin");
    // one request of each kind per account: asking again (a second click) answers the first
    const again = await disable(t, rogue, b.id);
    assert.equal(again.status, 202);
    assert.equal(again.body.pending_approval.id, second.body.pending_approval.id);

    // accounts that cannot manage accounts are not counted
    for (const role of ["operator", "viewer"] as const) {
      const other = await createAdmin(t, role);
      assert.equal((await disable(t, rogue, other.id)).status, 200);
    }
    const alerts = await removalAlerts(t);
    assert.deepEqual(alerts.map((x) => [x.kind, x.admin_id]), [["admin_disabled", a.id]]);
    assert.match(alerts[0].detail, new RegExp(`${a.id}.*${rogue.id}`));
    const audit = await auditEntries(t.kv);
    assert.ok(
      audit.some((e) =>
        e.action === "user.disable" && e.target?.id === a.id && e.actor.id === rogue.id
      ),
    );
    // b was not disabled (asking again while one waits is no refusal either: the same request)
    assert.deepEqual(
      audit.filter((e) => e.action === "user.disable" && e.target?.id === b.id).map((e) =>
        e.result
      ),
      [],
    );

    // a rolling 24 h: a day after the first, one more is immediate again (and only one)
    t.clock.set(firstAt + DAY_MS - 60_000);
    assert.equal((await disable(t, rogue, d.id)).status, 202);
    t.clock.set(firstAt + DAY_MS);
    const later = await createAdmin(t, "admin");
    assert.equal((await disable(t, rogue, later.id)).status, 200);
    const spare = await createAdmin(t, "admin");
    assert.equal((await patch(t, otpHeaders(t, rogue), spare.id, { role: "viewer" })).status, 202);
  });
});

Deno.test("attack: a burst of disables against three admins from several tabs lands at most one", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const targets = await createAdmins(t, 3);
    const bystander = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, rogue);
    const sent = [...targets, ...targets, ...targets];
    const answers = await Promise.all(
      sent.map((x, i) =>
        patch(t, headers, x.id, i % 2 ? { status: "disabled" } : { role: "support" })
      ),
    );
    const statuses = answers.map((r) => r.status);
    // One admin is removed at once. A disable that lands after that admin's demotion is
    // immediate too: the account is no longer an admin, so it removes no second one.
    const done = new Set(sent.filter((_, i) => statuses[i] === 200).map((x) => x.id));
    assert.equal(done.size, 1, statuses.join(","));
    for (const r of answers) assert.ok([200, 202, 409].includes(r.status), JSON.stringify(r.body));
    const removed = [];
    for (const x of targets) {
      const now = await t.services.identity.getAdmin(x.id);
      if (now.status !== "active" || now.role !== "admin") removed.push(x.id);
    }
    assert.equal(removed.length, 1);
    assert.equal((await removalAlerts(t)).length, 1);
    assert.equal(await statusOf(t, bystander), "active");
  }, { env: { API_RATE_LIMIT_PER_MIN: "100000" } });
});

Deno.test("attack: a burst spread over isolates (their own services on one KV) lands at most one", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const targets = await createAdmins(t, 3);
    await createAdmin(t, "admin");
    const isolates = [t.services, createServices(t.deps), createServices(t.deps)];
    const results = await Promise.allSettled(
      targets.map((x, i) =>
        isolates[i].identity.updateAdmin(adminContext(rogue), x.id, { status: "disabled" })
      ),
    );
    const done = results.filter((r) => r.status === "fulfilled" && !r.value.pending_approval);
    assert.equal(done.length, 1, JSON.stringify(results));
    let disabled = 0;
    for (const x of targets) if (await statusOf(t, x) === "disabled") disabled++;
    assert.equal(disabled, 1);
  });
});

Deno.test("attack: no one disables or demotes the last active admin outside themselves and the accounts linked to them", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const a = await createAdmin(t, "admin");
    await createAdmin(t, "operator");
    for (const body of [{ status: "disabled" }, { role: "operator" }]) {
      const res = await patch(t, otpHeaders(t, rogue), a.id, body);
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.rule, "last_unlinked_admin");
      assert.match(res.body.detail, /deno task admin/);
    }
    assert.equal(await statusOf(t, a), "active");
    assert.equal((await t.services.identity.getAdmin(a.id)).role, "admin");
    const denied = (await auditEntries(t.kv)).filter((e) =>
      e.target?.id === a.id && e.result === "denied"
    );
    assert.deepEqual(denied.map((e) => e.action), ["user.disable", "user.update"]);
    assert.deepEqual(await removalAlerts(t), []);

    // a second account the rogue holds does not count as somebody else
    const b = await createAdmin(t, "admin");
    const second = await approvedAccount(t, rogue, b, "admin");
    await t.services.identity.updateAdmin(systemContext("cli"), b.id, { status: "disabled" });
    const res = await disable(t, rogue, a.id);
    assert.equal(res.status, 409, JSON.stringify(res.body));
    const fromSecond = await disable(t, second, a.id);
    assert.equal(fromSecond.status, 409, JSON.stringify(fromSecond.body));
    assert.equal(await statusOf(t, a), "active");
  });
});

Deno.test("attack: a second account the admin controls shares their 24 h; no account linked to either approves", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const [a, b, c, d] = await createAdmins(t, 4);
    // d approved the rogue's request for another admin account, and the rogue holds it
    const second = await approvedAccount(t, rogue, d, "admin");
    assert.equal((await disable(t, rogue, a.id)).status, 200);
    const asked = await disable(t, second, b.id);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const request = asked.body.pending_approval;
    assert.equal(await statusOf(t, b), "active");
    for (
      const [who, rule] of [[second, undefined], [rogue, "linked_account"], [b, undefined], [
        d,
        "linked_account",
      ]] as const
    ) {
      const res = await t.app.request(
        `/api/admin/approvals/${request.id}/approve`,
        jsonRequest("POST", otpHeaders(t, who), { approval_hash: request.approval_hash }),
      );
      assert.equal(res.status, 403, who.id);
      const problem = await res.json();
      assert.equal(problem.code, "self_approval_forbidden");
      if (rule) assert.equal(problem.rule, rule);
    }
    assert.equal(await statusOf(t, b), "active");
    assert.equal(await statusOf(t, c), "active");
  });
});

Deno.test("addRemovalAlone() checks every row read: of two linked admins acting at once, one commits", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // each reads its own row and the other's (they are linked), as removeAdmin does
    const mine = await getRemovalsAlone(kv, ["adm_r", "adm_r2"]);
    const theirs = await getRemovalsAlone(kv, ["adm_r2", "adm_r"]);
    const row = (admin_id: string) => ({
      at: new Date(0).toISOString(),
      admin_id,
      removal: "disable" as const,
    });
    const first = kv.atomic();
    addRemovalAlone(first, mine, "adm_r", row("adm_a"), DAY_MS);
    assert.equal((await first.commit()).ok, true);
    const second = kv.atomic();
    addRemovalAlone(second, theirs, "adm_r2", row("adm_b"), DAY_MS);
    assert.equal((await second.commit()).ok, false, "built on a read the first commit moved");
  } finally {
    kv.close();
  }
});
