/**
 * An alert is assigned only to an account that can work it (README "Fraud
 * detection": workflow; the same check as a dispute's assignee): an active
 * admin whose role triages alerts (analyst or above). The fraud routes' bodies
 * are strict: a misspelled field is 422 naming it, and nothing changes.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  disableAdmin,
  otpHeaders,
  sendJson,
} from "./helpers/identity.ts";
import { oneAlert } from "./helpers/fraud.ts";

const BASE = "/api/admin/payments/fraud";

Deno.test("an alert is assigned only to an active account that works alerts", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const admin = await createAdmin(t, "admin");
    const viewer = await createAdmin(t, "viewer");
    const support = await createAdmin(t, "support");
    const gone = await createAdmin(t, "analyst");
    await disableAdmin(t, admin, gone.id);
    const id = await oneAlert(t, "cus_assignee");
    const h = authHeaders(analyst);
    const cases: [string, RegExp][] = [
      [viewer.id, /is viewer, who cannot work fraud alerts \(analyst or above\)/],
      [support.id, /is support, who cannot work fraud alerts/],
      [gone.id, /is disabled/],
      ["adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", /no admin adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R/],
      // an id cut short, or of another kind: the whole form
      ["adm_nobody", /^assignee must be an admin's id, adm_… \(adm_ and 26 /],
      ["dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", /^assignee must be an admin's id, adm_…/],
      // an email where the id goes: told which value the field takes, and where an analyst
      // (who cannot list accounts) finds one
      [
        admin.email,
        /an admin's id, adm_… .* or me for yourself \(your own is on GET \/api\/admin\/me\)/,
      ],
    ];
    for (const [who, why] of cases) {
      const r = await sendJson(t, "PATCH", `${BASE}/alerts/${id}`, h, { assignee: who });
      assert.equal(r.status, 422, who);
      assert.equal(r.body.errors[0].path, "body.assignee");
      assert.match(r.body.errors[0].message, why);
    }
    assert.equal((await sendJson(t, "GET", `${BASE}/alerts/${id}`, h)).body.assignee, null);
    const ok = await sendJson(t, "PATCH", `${BASE}/alerts/${id}`, h, { assignee: admin.id });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.assignee, admin.id);
    // `me` is the caller, as on a dispute
    const mine = await sendJson(t, "PATCH", `${BASE}/alerts/${id}`, h, { assignee: "me" });
    assert.equal(mine.status, 200);
    assert.equal(mine.body.assignee, analyst.id);
  });
});

Deno.test("fraud bodies are strict: a misspelled field is 422 naming it, and nothing changes", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const operator = await createAdmin(t, "operator");
    const id = await oneAlert(t, "cus_typo");
    const h = authHeaders(analyst);
    const typo = await sendJson(t, "PATCH", `${BASE}/alerts/${id}`, h, {
      status: "investigating",
      asignee: analyst.id,
    });
    assert.equal(typo.status, 422);
    assert.equal(typo.body.errors[0].path, "body.asignee");
    assert.match(typo.body.errors[0].message, /asignee is not a known field/);
    assert.equal((await sendJson(t, "GET", `${BASE}/alerts/${id}`, h)).body.status, "open");

    const snooze = await sendJson(t, "POST", `${BASE}/snoozes`, h, {
      customer: "cus_typo",
      rule: "velocity",
      until: new Date(t.clock.now() + 3600_000).toISOString(),
      note: "known buyer",
      custmer: "cus_other",
    });
    assert.equal(snooze.status, 422);
    assert.match(snooze.body.errors[0].message, /custmer is not a known field/);
    const refund = await sendJson(
      t,
      "POST",
      `${BASE}/alerts/${id}/refunds`,
      otpHeaders(t, operator),
      {
        note: "refund",
        amount: 100,
      },
    );
    assert.equal(refund.status, 422);
    assert.match(refund.body.errors[0].message, /amount is not a known field/);
    const analyze = await sendJson(t, "POST", `${BASE}/analyze`, h, {
      customer_id: "cus_typo",
      transaction: "txn_x",
    });
    assert.equal(analyze.status, 422);
    assert.match(analyze.body.errors[0].message, /transaction is not a known field/);
    const backtest = await sendJson(t, "POST", `${BASE}/rules/backtest`, h, { day: 3 });
    assert.equal(backtest.status, 422);
    assert.match(backtest.body.errors[0].message, /day is not a known field/);
  });
});
