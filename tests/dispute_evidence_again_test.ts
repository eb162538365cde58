/**
 * Evidence saves and file uploads sent again (README, "Dispute workbench"):
 * the draft it already is (a second click, a retry, a burst) answers the
 * dispute with nothing written and no second audit entry; the same file bytes
 * uploaded again by the same admin to the same field are one file at Stripe.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment, PNG, uploadRequest } from "./helpers/disputes.ts";
import { auditEntries, createAdmin } from "./helpers/identity.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import type { RefundWorld } from "./helpers/refunds.ts";

const EVIDENCE = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };

const entries = async (kv: Deno.Kv, action: string) =>
  (await auditEntries(kv)).filter((e) => e.action === action).map((e) => e.result);

Deno.test("the same draft saved again is one change: nothing written, not staged twice", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const path = `/disputes/${dispute.id}/evidence`;
    const first = await call(w, support, "PUT", path, EVIDENCE);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.draft.staged, true);
    const calls = w.emu.requests.total();
    // the same body, keys in another order: the same draft
    const again = await call(w, support, "PUT", path, {
      product_description: "Concert ticket",
      customer_name: "Ada Lovelace",
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body.draft, first.body.draft);
    assert.deepEqual(again.body.history, first.body.history, "nothing written");
    assert.equal(w.emu.requests.total(), calls, "Stripe already holds it");
    // another admin saving the very same draft changes nothing either
    const theirs = await call(w, w.operator, "PUT", path, EVIDENCE);
    assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
    assert.deepEqual(theirs.body.draft, first.body.draft);
    assert.deepEqual(await entries(w.t.kv, "dispute.evidence_saved"), ["ok"]);
    // a changed draft is a change
    const changed = await call(w, support, "PUT", path, { ...EVIDENCE, customer_name: "Ada" });
    assert.equal(changed.body.draft.version, first.body.draft.version + 1);
    assert.deepEqual(await entries(w.t.kv, "dispute.evidence_saved"), ["ok", "ok"]);
  });
});

Deno.test("the same draft saved again after its stage failed stages it again, still one change", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    w.emu.faults.inject({
      kind: "server_error",
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}`,
    });
    const first = await call(w, w.operator, "PUT", path, EVIDENCE);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.draft.staged, false);
    assert.ok(first.body.draft.stage_error);
    const again = await call(w, w.operator, "PUT", path, EVIDENCE);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.draft.staged, true, JSON.stringify(again.body.draft));
    assert.equal(again.body.draft.stage_error, null);
    assert.equal(again.body.draft.version, first.body.draft.version);
    assert.deepEqual(await entries(w.t.kv, "dispute.evidence_saved"), ["ok"]);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence.customer_name, "Ada Lovelace");
    assert.equal(atStripe.evidence_details.submission_count, 0);
  });
});

Deno.test("a burst of the same save is one change", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => call(w, w.operator, "PUT", path, EVIDENCE)),
    );
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual(await entries(w.t.kv, "dispute.evidence_saved"), ["ok"]);
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.draft!.version, 1);
    assert.equal(shown.history.filter((h) => h.action === "evidence_saved").length, 1);
    assert.deepEqual(shown.evidence, EVIDENCE);
  });
});

async function upload(
  w: RefundWorld,
  admin: TestAdmin,
  id: string,
  bytes: Uint8Array,
  field = "receipt",
) {
  const res = await w.t.app.request(
    `${API}/disputes/${id}/files`,
    await uploadRequest(
      admin.token,
      new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "image/png" }),
      "receipt.png",
      field,
    ),
  );
  return { status: res.status, body: await res.json() };
}

Deno.test("the same file uploaded again by the same admin is one file at Stripe, nothing written", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const first = await upload(w, w.operator, dispute.id, PNG);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const again = await upload(w, w.operator, dispute.id, PNG);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.evidence.receipt, first.body.evidence.receipt);
    assert.deepEqual(again.body.history, first.body.history, "nothing written");
    assert.equal((await w.stripe.files.list()).data.length, 1);
    assert.deepEqual(await entries(w.t.kv, "dispute.file_uploaded"), ["ok"]);
    // other bytes, another field, or another admin: another upload
    const other = new Uint8Array([...PNG, 9]);
    assert.equal((await upload(w, w.operator, dispute.id, other)).status, 201);
    assert.equal((await upload(w, w.operator, dispute.id, PNG, "refund_policy")).status, 201);
    assert.equal((await upload(w, w.operator2, dispute.id, PNG)).status, 201);
    assert.equal((await w.stripe.files.list()).data.length, 4);
  });
});

Deno.test("a burst of the same upload by one admin is one file at Stripe; every answer names it", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => upload(w, w.operator, dispute.id, PNG)),
    );
    for (const a of answers) assert.equal(a.status, 201, JSON.stringify(a.body));
    const ids = new Set(answers.map((a) => a.body.evidence.receipt));
    assert.equal(ids.size, 1, [...ids].join());
    assert.equal((await w.stripe.files.list()).data.length, 1);
    assert.deepEqual(await entries(w.t.kv, "dispute.file_uploaded"), ["ok"]);
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.history.filter((h) => h.action === "evidence_saved").length, 1);
  });
});

Deno.test("an upload whose answer was lost after Stripe made the file: sent again, it is that file", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/files" });
    const lost = await upload(w, w.operator, dispute.id, PNG);
    assert.ok(lost.status >= 500, JSON.stringify(lost.body));
    assert.equal(lost.body.type.startsWith("/problems/"), true);
    assert.equal((await w.stripe.files.list()).data.length, 1, "Stripe made it");
    assert.equal((await w.t.services.disputes.get(dispute.id)).draft, null);
    const again = await upload(w, w.operator, dispute.id, PNG);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const files = (await w.stripe.files.list()).data;
    assert.equal(files.length, 1, "the same file, not a second one");
    assert.equal(again.body.evidence.receipt, files[0].id);
    assert.deepEqual(await entries(w.t.kv, "dispute.file_uploaded"), ["ok"]);
  });
});
