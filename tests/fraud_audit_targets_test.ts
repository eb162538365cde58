/**
 * What `GET /audit-log?target=…` finds in the fraud workflow (README "Fraud
 * detection"): a refused snooze (409: one already in force) names the
 * customer, or the card subject, it was about; a rule change waiting for a
 * second admin shows in the rule's history (`target=<rule>`) beside the
 * `approval.request` entry, which keeps targeting the `apr_…` request.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson, stepUpHeaders } from "./helpers/identity.ts";
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
