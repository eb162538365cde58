/**
 * An evidence upload sets one field of the draft, so it can replace another agent's choice of
 * file there: like the evidence save, it honours `If-Match: "<draft.hash>"` (README "Dispute
 * workbench", Editing together). A draft changed since it was read is `412
 * precondition_failed` naming who changed it, before anything is sent to Stripe and with
 * nothing written; without the header the file lands in the draft as it is then.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import type { RefundWorld } from "./helpers/refunds.ts";
import { API, disputedPayment, PNG, uploadRequest } from "./helpers/disputes.ts";
import { auditEntries, createAdmin, jsonRequest, type TestAdmin } from "./helpers/identity.ts";
import { waitingFor } from "./helpers/waiting.ts";

async function putEvidence(w: RefundWorld, admin: TestAdmin, id: string, body: unknown) {
  const res = await w.t.app.request(
    `${API}/disputes/${id}/evidence`,
    jsonRequest("PUT", { authorization: `Bearer ${admin.token}` }, body),
  );
  assert.equal(res.status, 200);
  return { etag: res.headers.get("etag")!, body: await res.json() };
}

async function upload(
  w: RefundWorld,
  admin: TestAdmin,
  id: string,
  headers: Record<string, string> = {},
  bytes: Uint8Array = PNG,
) {
  const req = await uploadRequest(
    admin.token,
    new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "image/png" }),
    "receipt.png",
    "receipt",
  );
  const res = await w.t.app.request(`${API}/disputes/${id}/files`, {
    ...req,
    headers: { ...req.headers, ...headers },
  });
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    etag: res.headers.get("etag"),
    body: await res.json(),
  };
}

async function filesAtStripe(w: RefundWorld): Promise<number> {
  return (await w.stripe.files.list({ limit: 100 })).data.length;
}

Deno.test("upload with If-Match: the draft read lands the file and answers the new tag", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const saved = await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    const res = await upload(w, ann, dispute.id, { "if-match": saved.etag });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.body.evidence.receipt, /^file_/);
    assert.equal(res.body.evidence.customer_name, "Ada");
    assert.equal(res.etag, `"${res.body.draft.hash}"`);
    assert.notEqual(res.etag, saved.etag);
    // the same upload sent again with the tag it was sent with (a second click) answers it
    const again = await upload(w, ann, dispute.id, { "if-match": saved.etag });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.evidence.receipt, res.body.evidence.receipt);
    assert.equal(again.etag, res.etag);
    assert.equal(await filesAtStripe(w), 1);
    // `If-None-Match: *` attaches only while there is no draft
    const none = await upload(
      w,
      ann,
      dispute.id,
      { "if-none-match": "*" },
      new Uint8Array([...PNG, 9]),
    );
    assert.equal(none.status, 412, JSON.stringify(none.body));
  });
});

Deno.test("upload with If-Match on a draft changed since: 412 naming who, nothing sent or written", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const bob = await createAdmin(w.t, "support");
    const read = await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    const bobs = await putEvidence(w, bob, dispute.id, {
      customer_name: "Ada",
      product_description: "a lamp",
    });
    const auditBefore = (await auditEntries(w.t.kv)).length;
    const res = await upload(w, ann, dispute.id, { "if-match": read.etag });
    assert.equal(res.status, 412, JSON.stringify(res.body));
    assert.match(res.type, /application\/problem\+json/);
    assert.equal(res.body.code, "precondition_failed");
    assert.match(res.body.detail, new RegExp(bob.id));
    assert.equal(res.body.draft.updated_by, bob.id);
    assert.equal(res.body.draft.hash, bobs.body.draft.hash);
    assert.equal(await filesAtStripe(w), 0, "nothing sent to Stripe");
    const now = await w.t.services.disputes.get(dispute.id);
    assert.equal(now.draft!.hash, bobs.body.draft.hash);
    assert.equal((await auditEntries(w.t.kv)).length, auditBefore, "no audit entry");
    // read again, send the new tag: the file lands on Bob's draft
    const retry = await upload(w, ann, dispute.id, { "if-match": `"${now.draft!.hash}"` });
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.match(retry.body.evidence.receipt, /^file_/);
    assert.equal(await filesAtStripe(w), 1);
  });
});

Deno.test("upload without If-Match: the file lands in the draft as it is then", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const bob = await createAdmin(w.t, "support");
    await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    await putEvidence(w, bob, dispute.id, { customer_name: "Ada", product_description: "a lamp" });
    const res = await upload(w, ann, dispute.id);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.evidence.product_description, "a lamp");
    assert.match(res.body.evidence.receipt, /^file_/);
    assert.equal(res.etag, `"${res.body.draft.hash}"`);
  });
});

Deno.test("upload with If-Match: a save landing while the file is sent is 412; sent again, the file lands once", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const bob = await createAdmin(w.t, "support");
    const read = await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    const go = Promise.withResolvers<void>();
    const held = w.emu.faults.inject({
      kind: "latency",
      method: "POST",
      path: "/v1/files",
      until: go.promise,
    });
    const sending = upload(w, ann, dispute.id, { "if-match": read.etag });
    await waitingFor(
      "the upload to reach Stripe",
      (async () => {
        while (held.remaining() > 0) await new Promise((r) => setTimeout(r, 5));
      })(),
    );
    const bobs = await putEvidence(w, bob, dispute.id, { customer_name: "Bo" });
    go.resolve();
    const res = await sending;
    assert.equal(res.status, 412, JSON.stringify(res.body));
    assert.equal(res.body.draft.updated_by, bob.id);
    const now = await w.t.services.disputes.get(dispute.id);
    assert.deepEqual(now.evidence, { customer_name: "Bo" });
    assert.equal(await filesAtStripe(w), 1, "the file waits at Stripe");
    const again = await upload(w, ann, dispute.id, { "if-match": bobs.etag });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.evidence.customer_name, "Bo");
    assert.match(again.body.evidence.receipt, /^file_/);
    assert.equal(await filesAtStripe(w), 1, "one file at Stripe");
  });
});
