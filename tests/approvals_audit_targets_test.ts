/**
 * What `GET /audit-log?target=…` finds of a two-person request about an admin
 * account or a dispute (README, "Two-person rules"): each step of the request
 * (asked, approved, rejected, withdrawn, expired, a refused self-approval) is
 * audited on the account (`user.request`, `user.approve`, …) or the dispute
 * (`dispute.accept_request`, `dispute.accept_approve`, …) too, naming the
 * request, beside the queue's entries on the `apr_…` id, as a refund's
 * decisions target the refund and a rule change's the rule.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { createAdmin, otpHeaders, sendJson, type TestAdmin } from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import { systemContext } from "../domain/actor.ts";

const API = "/api/admin/payments";
const PAST_EXPIRY_MS = 25 * 3600_000;

interface Step {
  action: string;
  result: string;
  approval: unknown;
  kind: unknown;
  requested_by: unknown;
}

/** The entries targeting `id`, oldest first. */
async function historyOf(t: TestApp, reader: TestAdmin, id: string): Promise<Step[]> {
  const r = await sendJson(t, "GET", `${API}/audit-log?target=${id}&limit=100`, {
    authorization: `Bearer ${reader.token}`,
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body.data as { action: string; result: string; after: Record<string, unknown> }[])
    .reverse()
    .map((e) => ({
      action: e.action,
      result: e.result,
      approval: e.after?.approval_id,
      kind: e.after?.kind,
      requested_by: e.after?.requested_by,
    }));
}

async function decide(t: TestApp, by: TestAdmin, id: string, verb: "approve" | "reject") {
  return await sendJson(t, "POST", `/api/admin/approvals/${id}/${verb}`, otpHeaders(t, by), {
    note: `${verb}d in the test`,
  });
}

/** A pending request and the account (`adm_…`) it acts on. */
type Asked = { approval: string; account: string };

/** How each account kind is asked for by `asker` about a fresh account. */
const ACCOUNT_KINDS: Record<string, (t: TestApp, asker: TestAdmin) => Promise<Asked>> = {
  "user.create": async (t, asker) => {
    const email = `new-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const r = await sendJson(t, "POST", "/api/admin/users", otpHeaders(t, asker), {
      email,
      role: "operator",
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const account = r.body.approval.payload.admin_id;
    assert.match(account, /^adm_/, "the request reserves the account's id");
    return { approval: r.body.approval.id, account };
  },
  "user.role_grant": async (t, asker) => {
    const viewer = await createAdmin(t, "viewer");
    const r = await sendJson(t, "PATCH", `/api/admin/users/${viewer.id}`, otpHeaders(t, asker), {
      role: "operator",
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return { approval: r.body.pending_approval.id, account: viewer.id };
  },
  "user.reactivate": async (t, asker) => {
    const off = await createAdmin(t, "operator");
    await t.services.identity.updateAdmin(systemContext("cli"), off.id, { status: "disabled" });
    const r = await sendJson(t, "PATCH", `/api/admin/users/${off.id}`, otpHeaders(t, asker), {
      status: "active",
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return { approval: r.body.pending_approval.id, account: off.id };
  },
  "user.rotate_token": async (t, asker) => {
    const other = await createAdmin(t, "operator");
    const path = `/api/admin/users/${other.id}/rotate-token`;
    const r = await sendJson(t, "POST", path, otpHeaders(t, asker), {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return { approval: r.body.id, account: other.id };
  },
  "user.reset_2fa": async (t, asker) => {
    const other = await createAdmin(t, "operator");
    const path = `/api/admin/users/${other.id}/reset-2fa`;
    const r = await sendJson(t, "POST", path, otpHeaders(t, asker), {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return { approval: r.body.id, account: other.id };
  },
  // the asker already removed an admin alone today (spent below): a second person now
  "user.disable": async (t, asker) => {
    const other = await createAdmin(t, "admin");
    const r = await sendJson(t, "PATCH", `/api/admin/users/${other.id}`, otpHeaders(t, asker), {
      status: "disabled",
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return { approval: r.body.pending_approval.id, account: other.id };
  },
  "user.demote": async (t, asker) => {
    const other = await createAdmin(t, "admin");
    const r = await sendJson(t, "PATCH", `/api/admin/users/${other.id}`, otpHeaders(t, asker), {
      role: "analyst",
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return { approval: r.body.pending_approval.id, account: other.id };
  },
};

for (const [kind, ask] of Object.entries(ACCOUNT_KINDS)) {
  Deno.test(`a ${kind} request's steps show in the account's audit history: approved, rejected, withdrawn, expired`, async () => {
    await withTestApp(async (t) => {
      const asker = await createAdmin(t, "admin");
      const second = await createAdmin(t, "admin");
      const reader = await createAdmin(t, "auditor");
      // spends the asker's one removal alone of the day (a disable or demotion then waits)
      const spent = await createAdmin(t, "admin");
      const alone = await sendJson(
        t,
        "PATCH",
        `/api/admin/users/${spent.id}`,
        otpHeaders(t, asker),
        {
          status: "disabled",
        },
      );
      assert.equal(alone.status, 200, JSON.stringify(alone.body));
      const approved = await ask(t, asker);
      const rejected = await ask(t, asker);
      const withdrawn = await ask(t, asker);
      const lapsed = await ask(t, asker);
      const steps = async (a: Asked) =>
        (await historyOf(t, reader, a.account))
          .filter((s) => s.approval === a.approval && s.kind === kind)
          .map((s) => `${s.action}:${s.result}`);

      // approved by the second admin, after the asker's own approval was refused
      assert.equal((await decide(t, asker, approved.approval, "approve")).status, 403);
      const ok = await decide(t, second, approved.approval, "approve");
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.approval.status, "executed", JSON.stringify(ok.body));
      assert.deepEqual(await steps(approved), [
        "user.request:ok",
        "user.approve:denied",
        "user.approve:ok",
      ]);
      // the change itself follows on the account, naming the request
      const all = await historyOf(t, reader, approved.account);
      const done = all.filter((s) => s.approval === approved.approval && s.kind !== kind);
      assert.equal(done.length, 1, JSON.stringify(all));
      assert.notEqual(done[0].action.split(".")[0], "approval");
      assert.equal(done[0].requested_by, asker.id, "who asked for it");

      assert.equal((await decide(t, second, rejected.approval, "reject")).status, 200);
      assert.deepEqual(await steps(rejected), ["user.request:ok", "user.reject:ok"]);
      assert.equal((await decide(t, asker, withdrawn.approval, "reject")).status, 200);
      assert.deepEqual(await steps(withdrawn), ["user.request:ok", "user.reject:ok"]);

      t.clock.advance(PAST_EXPIRY_MS);
      assert.equal((await decide(t, second, lapsed.approval, "approve")).status, 409);
      assert.deepEqual(await steps(lapsed), [
        "user.request:ok",
        "user.expire:ok",
        "user.approve:denied",
      ]);

      // the request's own entries keep targeting it
      const own = await historyOf(t, reader, approved.approval);
      assert.deepEqual(own.map((s) => s.action), [
        "approval.request",
        "approval.approve",
        "approval.approve",
        "approval.execute",
      ]);
    });
  });
}

Deno.test("requests their asker's disable expires show expired in the account's (or rule's) audit history", async () => {
  await withTestApp(async (t) => {
    const [asker, second, reader] = [
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "auditor"),
    ];
    const asked = await ACCOUNT_KINDS["user.rotate_token"](t, asker);
    const rule = await sendJson(t, "PUT", `${API}/fraud/rules/velocity`, otpHeaders(t, asker), {
      alert_at: 12,
    });
    assert.equal(rule.status, 202, JSON.stringify(rule.body));
    await t.services.identity.updateAdmin(systemContext("cli"), asker.id, { status: "disabled" });
    const steps = async (target: string, approval: string) =>
      (await historyOf(t, reader, target))
        .filter((s) => s.approval === approval)
        .map((s) => `${s.action}:${s.result}`);
    assert.deepEqual(await steps(asked.account, asked.approval), [
      "user.request:ok",
      "user.expire:ok",
    ]);
    // so is a rule change's, in the rule's
    assert.deepEqual(await steps("velocity", rule.body.approval.id), [
      "fraud_rule.request:ok",
      "fraud_rule.expire:ok",
    ]);
    assert.equal((await decide(t, second, asked.approval, "approve")).status, 409);
  });
});

Deno.test("a dispute.accept request's steps show in the dispute's audit history: approved, rejected, withdrawn, expired", async () => {
  await withRefundWorld(async (w) => {
    const t = w.t;
    const reader = await createAdmin(t, "auditor");
    const ask = async () => {
      const { dispute } = await disputedPayment(w, 60_000);
      const r = await call(w, w.operator, "POST", `/disputes/${dispute.id}/accept`, {
        note: "not worth fighting",
      }, true);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return { approval: r.body.approval.id as string, dispute: dispute.id };
    };
    const steps = async (a: { approval: string; dispute: string }) =>
      (await historyOf(t, reader, a.dispute))
        .filter((s) => s.approval === a.approval)
        .map((s) => `${s.action}:${s.result}`);
    const approved = await ask();
    const rejected = await ask();
    const withdrawn = await ask();
    const lapsed = await ask();
    const again = await ask();

    assert.equal((await decide(t, w.operator, approved.approval, "approve")).status, 403);
    const ok = await decide(t, w.operator2, approved.approval, "approve");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.approval.status, "executed", JSON.stringify(ok.body));
    assert.deepEqual(await steps(approved), [
      "dispute.accept_request:ok",
      "dispute.accept_approve:denied",
      "dispute.accept_approve:ok",
      "dispute.accept:ok", // the go-ahead itself, naming the request
    ]);
    const accepted = (await historyOf(t, reader, approved.dispute))
      .find((s) => s.approval === approved.approval && s.action === "dispute.accept");
    assert.equal(accepted?.requested_by, w.operator.id, "who asked for it");
    const kinds = (await historyOf(t, reader, approved.dispute))
      .filter((s) => s.approval === approved.approval && s.action !== "dispute.accept")
      .map((s) => s.kind);
    assert.deepEqual(kinds, ["dispute.accept", "dispute.accept", "dispute.accept"]);

    assert.equal((await decide(t, w.operator2, rejected.approval, "reject")).status, 200);
    assert.deepEqual(await steps(rejected), [
      "dispute.accept_request:ok",
      "dispute.accept_reject:ok",
    ]);
    assert.equal((await decide(t, w.operator, withdrawn.approval, "reject")).status, 200);
    assert.deepEqual(await steps(withdrawn), [
      "dispute.accept_request:ok",
      "dispute.accept_reject:ok",
    ]);

    // a second click of the accept answers the request waiting and records nothing more
    const before = (await historyOf(t, reader, again.dispute)).length;
    const click = await call(w, w.operator, "POST", `/disputes/${again.dispute}/accept`, {
      note: "not worth fighting",
    }, true);
    assert.equal(click.status, 202, JSON.stringify(click.body));
    assert.equal(click.body.approval.id, again.approval);
    assert.equal((await historyOf(t, reader, again.dispute)).length, before);

    w.clock.advance(PAST_EXPIRY_MS);
    assert.equal((await decide(t, w.operator2, lapsed.approval, "approve")).status, 409);
    assert.deepEqual(await steps(lapsed), [
      "dispute.accept_request:ok",
      "dispute.accept_expire:ok",
      "dispute.accept_approve:denied",
    ]);
  });
});
