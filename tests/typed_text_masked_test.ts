/**
 * The notes people type are masked before they are stored (README, "Security"): a card number,
 * a Stripe key, a webhook secret, this service's token and an email typed into a fraud alert's
 * history note, an ops alert's close note, an approval's decision note, a snooze's note or a
 * webhook event's dismissal note are stored (and shown) masked, in the record as in every KV
 * value, not only in the audit entry. The routes that call Stripe: typed_text_stripe_test.ts.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  adminContext,
  authHeaders,
  createAdmin,
  otpHeaders,
  sendJson,
  type TestAdmin,
} from "./helpers/identity.ts";
import { knownCustomers, oneAlert } from "./helpers/fraud.ts";
import { makeEvent, postEvent, WEBHOOK_ENV } from "./helpers/webhooks.ts";
import { assertKvMasked, assertMasked, TYPED } from "./helpers/typed_text.ts";
import { addOpsAlert, type OpsAlert } from "../kv/ops_alerts.ts";

const API = "/api/admin/payments";

Deno.test("a fraud alert's history note is stored masked", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const id = await oneAlert(t, "cus_typed");
    const res = await sendJson(t, "PATCH", `${API}/fraud/alerts/${id}`, authHeaders(analyst), {
      status: "investigating",
      note: TYPED,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertMasked(res.body.history, "the PATCH answer");
    const read = await sendJson(t, "GET", `${API}/fraud/alerts/${id}`, authHeaders(analyst));
    assertMasked(read.body.history, "GET /fraud/alerts/{id}");
    await assertKvMasked(t.kv, "alert note");
  });
});

Deno.test("an ops alert's close note is stored masked", async () => {
  await withTestApp(async (t) => {
    const operator = await createAdmin(t, "operator");
    const alert: OpsAlert = {
      id: t.services.newId("ops"),
      kind: "refund_failed_after_success",
      refund_id: t.services.newId("rfd"),
      transaction_id: t.services.newId("txn"),
      stripe_refund: "re_test_1",
      amount: 2500,
      currency: "usd",
      detail: "Stripe failed refund re_test_1 after reporting it succeeded",
      status: "open",
      created_at: new Date(t.clock.now()).toISOString(),
    };
    const op = t.kv.atomic();
    addOpsAlert(op, alert);
    assert.ok((await op.commit()).ok);
    const url = `${API}/ops-alerts/${alert.id}`;
    const res = await sendJson(t, "POST", `${url}/close`, authHeaders(operator), { note: TYPED });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertMasked(res.body.close_note, "the close answer");
    assertMasked((await sendJson(t, "GET", url, authHeaders(operator))).body.close_note, "GET");
    await assertKvMasked(t.kv, "ops alert close note");
  });
});

/** A `fraud.rule_disable` request by `by`, its executor doing nothing. */
function ask(t: TestApp, by: TestAdmin) {
  t.services.approvals.register("fraud.rule_disable", {
    execute: () => Promise.resolve({ rule: "velocity", enabled: false }),
  });
  return t.services.approvals.request(
    "fraud.rule_disable",
    { rule: "velocity", enabled: false },
    adminContext(by),
    { summary: "disable rule velocity", target: { type: "fraud_rule", id: "velocity" } },
  );
}

for (const decision of ["approve", "reject"] as const) {
  Deno.test(`an approval's ${decision} note is stored masked`, async () => {
    await withTestApp(async (t) => {
      const a = await createAdmin(t, "admin");
      const b = await createAdmin(t, "admin");
      const req = await ask(t, a);
      const url = `/api/admin/approvals/${req.id}`;
      const headers = decision === "approve" ? otpHeaders(t, b) : authHeaders(b);
      const res = await sendJson(t, "POST", `${url}/${decision}`, headers, { note: TYPED });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertMasked(res.body.approval.decision_note, `the ${decision} answer`);
      assertMasked((await sendJson(t, "GET", url, authHeaders(b))).body.decision_note, "GET");
      await assertKvMasked(t.kv, `${decision} note`);
    });
  });
}

Deno.test("a snooze's note is stored masked", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    await knownCustomers(t.kv, "cus_typed");
    const res = await sendJson(t, "POST", `${API}/fraud/snoozes`, authHeaders(analyst), {
      customer: "cus_typed",
      rule: "velocity",
      until: new Date(t.clock.now() + 24 * 3600_000).toISOString(),
      note: TYPED,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertMasked(res.body.note, "the snooze answer");
    const listed = await sendJson(t, "GET", `${API}/fraud/snoozes`, authHeaders(analyst));
    assertMasked(listed.body.data[0].note, "GET /fraud/snoozes");
    await assertKvMasked(t.kv, "snooze note");
  });
});

Deno.test("a webhook event's dismissal note is stored masked", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const event = makeEvent("payment_intent.succeeded", {
      id: "pi_bad1",
      object: "payment_intent",
    });
    await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    const url = `${API}/webhook-events/${event.id}`;
    const res = await sendJson(t, "POST", `${url}/dismiss`, otpHeaders(t, admin), { note: TYPED });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertMasked(res.body, "the dismiss answer");
    assertMasked((await sendJson(t, "GET", url, authHeaders(admin))).body, "GET");
    await assertKvMasked(t.kv, "dismissal note");
  }, { env: WEBHOOK_ENV });
});
