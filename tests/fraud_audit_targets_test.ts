/**
 * What `GET /audit-log?target=…` finds in the fraud workflow (README "Fraud
 * detection"): a refused snooze (409: one already in force) names the
 * customer, or the card subject, it was about; a rule change waiting for a
 * second admin shows in the rule's history (`target=<rule>`) beside the
 * `approval.request` entry, which keeps targeting the `apr_…` request; and so
 * does what becomes of it (approved, rejected, withdrawn, expired, approved
 * too late), as a refund's approval and rejection target the refund.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  otpHeaders,
  sendJson,
  stepUpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";
import { knownCards, knownCustomers } from "./helpers/fraud.ts";

const API = "/api/admin/payments";
const DAY = 24 * 3600_000;

async function auditOf(t: TestApp, query: string) {
  const admin = await createAdmin(t, "admin");
  const r = await sendJson(t, "GET", `${API}/audit-log?${query}&limit=50`, authHeaders(admin));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data as {
    action: string;
    result: string;
    actor: { id: string };
    target: { type: string; id: string } | null;
    after: Record<string, unknown>;
  }[];
}

Deno.test("a refused duplicate snooze is audited denied with the customer (or card) as target", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const other = await createAdmin(t, "analyst");
    await knownCustomers(t.kv, "cus_target");
    await knownCards(t.kv, "fpTARGET");
    for (const subject of ["cus_target", "card:fpTARGET"]) {
      const body = (note: string) => ({
        customer: subject,
        rule: "velocity",
        until: new Date(t.clock.now() + 30 * DAY).toISOString(),
        note,
      });
      const h = (a: typeof analyst) => authHeaders(a);
      assert.equal(
        (await sendJson(t, "POST", `${API}/fraud/snoozes`, h(analyst), body("a"))).status,
        201,
      );
      const refused = await sendJson(t, "POST", `${API}/fraud/snoozes`, h(other), body("b"));
      assert.equal(refused.status, 409);

      const about = await auditOf(t, `target=${encodeURIComponent(subject)}`);
      const denied = about.filter((e) =>
        e.action === "fraud_snooze.create" && e.result === "denied"
      );
      assert.equal(denied.length, 1, `${subject}: ${JSON.stringify(about)}`);
      assert.equal(denied[0].target?.id, subject);
      assert.equal(denied[0].target?.type, subject.startsWith("card:") ? "card" : "customer");
    }
  });
});

Deno.test("a loosening waiting for a second admin shows in the rule's audit history", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const h = await stepUpHeaders(t, admin);
    const asked = await sendJson(t, "PUT", `${API}/fraud/rules/velocity`, h, { alert_at: 12 });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const id = asked.body.approval.id as string;

    const history = await auditOf(t, "target=velocity");
    const request = history.find((e) => e.action === "fraud_rule.request");
    assert.ok(request, JSON.stringify(history));
    assert.equal(request.result, "ok");
    assert.deepEqual(request.target, { type: "fraud_rule", id: "velocity" });
    assert.equal(request.after.approval_id, id);
    assert.equal(request.after.kind, "fraud.rule_loosen");
    // the request's own entry still targets it
    const own = await auditOf(t, `target=${id}`);
    assert.deepEqual(own.map((e) => e.action), ["approval.request"]);

    // a second click answers the request waiting and records nothing more
    assert.equal(
      (await sendJson(t, "PUT", `${API}/fraud/rules/velocity`, h, { alert_at: 12 })).status,
      202,
    );
    const again = await auditOf(t, "target=velocity");
    assert.equal(again.filter((e) => e.action === "fraud_rule.request").length, 1);
  });
});

/** Approves (or rejects) `id` through the queue as `admin`, with a fresh code. */
async function decide(t: TestApp, admin: TestAdmin, id: string, verb: "approve" | "reject") {
  return await sendJson(
    t,
    "POST",
    `/api/admin/approvals/${id}/${verb}`,
    otpHeaders(t, admin),
    { note: `${verb}d in the test` },
  );
}

Deno.test("a rule change request's approval, rejection and expiry show in the rule's audit history", async () => {
  await withTestApp(async (t) => {
    const asker = await createAdmin(t, "admin");
    const second = await createAdmin(t, "admin");
    const h = await stepUpHeaders(t, asker);
    const ask = async (rule: string, body: Record<string, unknown>) => {
      const r = await sendJson(t, "PUT", `${API}/fraud/rules/${rule}`, h, body);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.approval.id as string;
    };
    const history = async (rule: string) =>
      (await auditOf(t, `target=${rule}`)).reverse().map((e) => ({
        action: e.action,
        result: e.result,
        approval: e.after?.approval_id,
      }));

    // approved, after the asker's own approval was refused
    const loosen = await ask("velocity", { alert_at: 12 });
    assert.equal((await decide(t, asker, loosen, "approve")).status, 403);
    assert.equal((await decide(t, second, loosen, "approve")).status, 200);
    assert.deepEqual(await history("velocity"), [
      { action: "fraud_rule.request", result: "ok", approval: loosen },
      { action: "fraud_rule.approve", result: "denied", approval: loosen },
      { action: "fraud_rule.approve", result: "ok", approval: loosen },
      // the version made, naming the request (README "Two-person rules")
      { action: "fraud_rule.update", result: "ok", approval: loosen },
    ]);
    const approved = (await auditOf(t, "target=velocity&action=fraud_rule.approve"))
      .find((e) => e.result === "ok");
    assert.equal(approved?.after.kind, "fraud.rule_loosen");

    // rejected by the second admin; withdrawn by its asker
    const rejected = await ask("score", { alert_at: 70 });
    assert.equal((await decide(t, second, rejected, "reject")).status, 200);
    const withdrawn = await ask("score", { alert_at: 75 });
    assert.equal((await decide(t, asker, withdrawn, "reject")).status, 200);
    assert.deepEqual(await history("score"), [
      { action: "fraud_rule.request", result: "ok", approval: rejected },
      { action: "fraud_rule.reject", result: "ok", approval: rejected },
      { action: "fraud_rule.request", result: "ok", approval: withdrawn },
      { action: "fraud_rule.reject", result: "ok", approval: withdrawn },
    ]);

    // expired: the approval that finds it so is refused
    const lapsed = await ask("amount_anomaly", { enabled: false });
    t.clock.advance(25 * 3600_000);
    assert.equal((await decide(t, second, lapsed, "approve")).status, 409);
    assert.deepEqual(await history("amount_anomaly"), [
      { action: "fraud_rule.request", result: "ok", approval: lapsed },
      { action: "fraud_rule.expire", result: "ok", approval: lapsed },
      { action: "fraud_rule.approve", result: "denied", approval: lapsed },
    ]);

    // approved after the rule changed: it cannot apply, and the rule's history says so
    const h2 = await stepUpHeaders(t, asker);
    const stale = await sendJson(t, "PUT", `${API}/fraud/rules/failed_attempts`, h2, {
      alert_at: 9,
    });
    assert.equal(stale.status, 202, JSON.stringify(stale.body));
    const staleId = stale.body.approval.id as string;
    const tighter = await sendJson(t, "PUT", `${API}/fraud/rules/failed_attempts`, h2, {
      watch_points: 20,
    });
    assert.equal(tighter.status, 200, JSON.stringify(tighter.body));
    const late = await decide(t, second, staleId, "approve");
    assert.equal(late.status, 200, JSON.stringify(late.body));
    assert.equal(late.body.approval.status, "failed");
    assert.deepEqual((await history("failed_attempts")).map((e) => `${e.action}:${e.result}`), [
      "fraud_rule.request:ok",
      "fraud_rule.update:ok",
      "fraud_rule.approve:ok",
      "fraud_rule.execute:failed",
    ]);

    // the request's own entries keep targeting it
    assert.deepEqual((await auditOf(t, `target=${loosen}`)).reverse().map((e) => e.action), [
      "approval.request",
      "approval.approve",
      "approval.approve",
      "approval.execute",
    ]);
  });
});

Deno.test("an approved rule change's version is audited with its approval_id and who asked, for every rule kind", async () => {
  await withTestApp(async (t) => {
    const asker = await createAdmin(t, "admin");
    const second = await createAdmin(t, "admin");
    const h = await stepUpHeaders(t, asker);
    const kinds: [string, string, Record<string, unknown>][] = [
      ["fraud.rule_loosen", "velocity", { alert_at: 20 }],
      ["fraud.rule_disable", "dispute_history", { enabled: false }],
      ["fraud.rule_shadow", "amount_anomaly", { shadow: true }],
    ];
    for (const [kind, rule, body] of kinds) {
      const asked = await sendJson(t, "PUT", `${API}/fraud/rules/${rule}`, h, body);
      assert.equal(asked.status, 202, JSON.stringify(asked.body));
      assert.equal(asked.body.approval.kind, kind);
      const id = asked.body.approval.id as string;
      const ok = await decide(t, second, id, "approve");
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.approval.status, "executed", JSON.stringify(ok.body));
      const made = await auditOf(t, `target=${rule}&action=fraud_rule.update`);
      assert.equal(made.length, 1, `${kind}: ${JSON.stringify(made)}`);
      // made by the approver, asked for by the asker, under the request
      assert.equal(made[0].actor.id, second.id, kind);
      assert.equal(made[0].after.approval_id, id, kind);
      assert.equal(made[0].after.requested_by, asker.id, kind);
      assert.equal(made[0].after.updated_by, second.id, kind);
      for (const [k, v] of Object.entries(body)) assert.deepEqual(made[0].after[k], v, k);
    }
    // a change applied at once names no request: asked and made by the same admin
    const tighter = await sendJson(t, "PUT", `${API}/fraud/rules/score`, h, { alert_at: 55 });
    assert.equal(tighter.status, 200, JSON.stringify(tighter.body));
    const [direct] = await auditOf(t, "target=score&action=fraud_rule.update");
    assert.equal(direct.after.approval_id, null);
    assert.equal(direct.after.requested_by, asker.id);
  });
});
