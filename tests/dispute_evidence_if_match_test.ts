/**
 * Two agents editing one evidence draft (README "Dispute workbench", Editing together):
 * `If-Match: "<draft.hash>"` makes the second save a `412 precondition_failed` naming who
 * changed the draft and when, with nothing written; without it the last write wins.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment } from "./helpers/disputes.ts";
import { createAdmin, jsonRequest, type TestAdmin } from "./helpers/identity.ts";
import type { RefundWorld } from "./helpers/refunds.ts";

async function putEvidence(
  w: RefundWorld,
  admin: TestAdmin,
  id: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await w.t.app.request(
    `${API}/disputes/${id}/evidence`,
    jsonRequest("PUT", { authorization: `Bearer ${admin.token}`, ...headers }, body),
  );
  const type = res.headers.get("content-type") ?? "";
  return { status: res.status, type, etag: res.headers.get("etag"), body: await res.json() };
}

Deno.test("If-Match: the second of two agents racing on one draft gets 412, nothing written", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const bob = await createAdmin(w.t, "support");
    const first = await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    // both agents read the same draft
    const seen = (await call(w, ann, "GET", `/disputes/${dispute.id}`)).body;
    const tag = `"${seen.draft.hash}"`;
    assert.equal(first.etag, tag, "the save answers the draft's tag as its ETag");
    const annSaved = await putEvidence(
      w,
      ann,
      dispute.id,
      { customer_name: "Ada", product_description: "a lamp" },
      { "if-match": tag },
    );
    assert.equal(annSaved.status, 200, JSON.stringify(annSaved.body));
    assert.notEqual(annSaved.etag, tag);
    const auditBefore = (await w.t.services.audit.list({ limit: 100 })).data.length;
    const bobSaved = await putEvidence(
      w,
      bob,
      dispute.id,
      { customer_name: "Ada", customer_email_address: "ada@example.com" },
      { "if-match": tag },
    );
    assert.equal(bobSaved.status, 412, JSON.stringify(bobSaved.body));
    assert.match(bobSaved.type, /application\/problem\+json/);
    assert.equal(bobSaved.body.code, "precondition_failed");
    assert.equal(bobSaved.body.type, "/problems/precondition_failed");
    assert.match(bobSaved.body.detail, new RegExp(ann.id));
    assert.match(bobSaved.body.detail, new RegExp(annSaved.body.draft.updated_at));
    assert.equal(bobSaved.body.draft.updated_by, ann.id);
    assert.equal(bobSaved.body.draft.hash, annSaved.body.draft.hash);
    // nothing written: Ann's fields stand, and no audit entry
    const now = await w.t.services.disputes.get(dispute.id);
    assert.deepEqual(now.evidence, { customer_name: "Ada", product_description: "a lamp" });
    assert.equal((await w.t.services.audit.list({ limit: 100 })).data.length, auditBefore);
    // Bob reads again and saves on top of Ann's draft
    const merged = await putEvidence(
      w,
      bob,
      dispute.id,
      { ...now.evidence, customer_email_address: "ada@example.com" },
      { "if-match": `"${now.draft!.hash}"` },
    );
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    assert.equal(merged.body.evidence.product_description, "a lamp");
    // the problem page exists
    const page = await w.t.app.request("/problems/precondition_failed");
    assert.equal(page.status, 200);
  });
});

Deno.test("If-Match: the same save sent again (a second click) answers the draft it made", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const first = await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    const body = { customer_name: "Ada", product_description: "a lamp" };
    const again = { "if-match": first.etag! };
    assert.equal((await putEvidence(w, ann, dispute.id, body, again)).status, 200);
    const second = await putEvidence(w, ann, dispute.id, body, again);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.deepEqual(second.body.evidence, body);
  });
});

Deno.test("If-Match: a weak tag (GET's ETag) or a draft that does not exist is 412 saying what to send", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const none = await putEvidence(w, ann, dispute.id, { customer_name: "Ada" }, {
      "if-match": '"abc"',
    });
    assert.equal(none.status, 412, JSON.stringify(none.body));
    assert.match(none.body.detail, /no evidence draft/);
    assert.equal((await w.t.services.disputes.get(dispute.id)).draft, null);
    await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    const got = await w.t.app.request(`${API}/disputes/${dispute.id}`, {
      headers: { authorization: `Bearer ${ann.token}` },
    });
    const weak = got.headers.get("etag")!;
    assert.match(weak, /^W\//);
    const res = await putEvidence(w, ann, dispute.id, { customer_name: "Bo" }, {
      "if-match": weak,
    });
    assert.equal(res.status, 412, JSON.stringify(res.body));
    assert.match(res.body.detail, /draft\.hash/);
    // `*` matches any draft that exists; If-None-Match: * only when there is none
    const star = await putEvidence(w, ann, dispute.id, { customer_name: "Cy" }, {
      "if-match": "*",
    });
    assert.equal(star.status, 200, JSON.stringify(star.body));
    const create = await putEvidence(w, ann, dispute.id, { customer_name: "Di" }, {
      "if-none-match": "*",
    });
    assert.equal(create.status, 412, JSON.stringify(create.body));
  });
});

Deno.test("without If-Match the last write wins (README)", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const bob = await createAdmin(w.t, "support");
    await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    const [a, b] = await Promise.all([
      putEvidence(w, ann, dispute.id, { customer_name: "Ada", product_description: "a lamp" }),
      putEvidence(w, bob, dispute.id, { customer_name: "Ada", customer_email_address: "a@x.io" }),
    ]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const now = await w.t.services.disputes.get(dispute.id);
    assert.equal(Object.keys(now.evidence!).length, 2, "one of the two drafts, whole");
  });
});

Deno.test("If-Match: two agents racing with the same tag: exactly one save wins", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const ann = await createAdmin(w.t, "support");
    const bob = await createAdmin(w.t, "support");
    const first = await putEvidence(w, ann, dispute.id, { customer_name: "Ada" });
    const h = { "if-match": first.etag! };
    const [a, b] = await Promise.all([
      putEvidence(w, ann, dispute.id, { customer_name: "Ada", product_description: "a lamp" }, h),
      putEvidence(
        w,
        bob,
        dispute.id,
        { customer_name: "Ada", customer_email_address: "a@x.io" },
        h,
      ),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 412]);
    const winner = a.status === 200 ? a : b;
    const now = await w.t.services.disputes.get(dispute.id);
    assert.deepEqual(now.evidence, winner.body.evidence);
  });
});
