import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call } from "./helpers/disputes.ts";
import { createAdmin } from "./helpers/identity.ts";
import { auditEntries } from "./helpers/identity.ts";

Deno.test("sync pulls every dispute from Stripe; sync twice equals sync once", async () => {
  await withRefundWorld(async (w) => {
    for (const amount of [1000, 2000, 3000]) {
      await w.stripe.paymentIntents.create({
        amount,
        currency: "usd",
        payment_method: "pm_card_createDispute",
        confirm: true,
      });
    }
    await w.dropHeld(); // Stripe's webhooks never arrive
    const support = await createAdmin(w.t, "support");
    assert.equal((await call(w, support, "POST", "/disputes/sync", {})).status, 403);
    const first = await call(w, w.operator, "POST", "/disputes/sync", {});
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, { seen: 3, changed: 3, pages: 1, dispute_id: null });
    const listed = await call(w, w.operator, "GET", "/disputes");
    const snapshot = JSON.stringify(listed.body);
    assert.deepEqual(listed.body.data.map((d: { amount: number }) => d.amount).sort(), [
      1000,
      2000,
      3000,
    ]);
    const audited = (await auditEntries(w.t.kv)).length;
    const second = await call(w, w.operator, "POST", "/disputes/sync", {});
    assert.deepEqual(second.body, { seen: 3, changed: 0, pages: 1, dispute_id: null });
    assert.equal(JSON.stringify((await call(w, w.operator, "GET", "/disputes")).body), snapshot);
    assert.equal((await auditEntries(w.t.kv)).length, audited);
    const one = listed.body.data[0].stripe_dispute;
    const single = await call(w, w.operator, "POST", "/disputes/sync", { dispute_id: one });
    assert.deepEqual(single.body, { seen: 1, changed: 0, pages: 0, dispute_id: one });
    // by our id, as GET /disputes shows it: the same dispute is pulled
    const ours = await call(w, w.operator, "POST", "/disputes/sync", {
      dispute_id: listed.body.data[0].id,
    });
    assert.deepEqual(ours.body, { seen: 1, changed: 0, pages: 0, dispute_id: one });
  });
});

Deno.test("sync of a dispute Stripe does not know is 404 naming body.dispute_id and what to check", async () => {
  await withRefundWorld(async (w) => {
    const res = await call(w, w.operator, "POST", "/disputes/sync", { dispute_id: "du_nope" });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(res.body.code, "not_found");
    assert.match(res.body.detail, /Stripe has no dispute du_nope/);
    assert.match(res.body.detail, /GET \/api\/admin\/payments\/disputes .*STRIPE_SECRET_KEY/);
    assert.deepEqual(res.body.errors?.map((e: { path: string }) => e.path), ["body.dispute_id"]);
    // a mistyped id is not Stripe's trouble: not logged as the outage line (README, "Stripe
    // outages"), but at info, with Stripe's code
    const lines = w.t.logs.map((l) => JSON.parse(l));
    assert.deepEqual(lines.filter((l) => l.msg === "stripe call failed"), []);
    const refused = lines.filter((l) => l.msg === "stripe refused the request");
    assert.equal(refused.length, 1, w.t.logs.join("\n"));
    assert.equal(refused[0].level, "info");
    assert.equal(refused[0].status, 404);
    assert.equal(refused[0].error.code, "resource_missing");
    // one of ours that names nothing: 404 on the field too, before any call to Stripe
    const calls = w.emu.requests.total();
    const ours = await call(w, w.operator, "POST", "/disputes/sync", {
      dispute_id: "dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
    });
    assert.equal(ours.status, 404);
    assert.deepEqual(ours.body.errors?.map((e: { path: string }) => e.path), ["body.dispute_id"]);
    assert.equal(w.emu.requests.total(), calls, "Stripe was not asked");
  });
});
