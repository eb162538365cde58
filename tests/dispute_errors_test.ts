/**
 * What the dispute workbench says when a request is wrong (README, "Inputs and headers" and
 * "Dispute workbench"): one 422 lists every field at fault, an `If-Match` that is no entity tag
 * is told so (not as someone else's save), a body over the route's limit names the field and its
 * rule, a text limit says how it counts, and a failed Stripe call's advice fits its route.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment, PNG, uploadRequest } from "./helpers/disputes.ts";
import { authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";

type Problem = { path: string; message: string };
const paths = (body: { errors?: Problem[] }) => (body.errors ?? []).map((e) => e.path).sort();

Deno.test("an unknown evidence field is named with every other bad field of the draft, nothing saved", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const res = await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, {
      extra: 1,
      customer_name: 5,
      receipt: "not a file",
    });
    assert.equal(res.status, 422);
    assert.deepEqual(paths(res.body), ["body.customer_name", "body.extra", "body.receipt"]);
    assert.match(res.body.errors.find((e: Problem) => e.path === "body.extra").message, /known/);
    assert.equal((await w.t.services.disputes.get(dispute.id)).draft, null);
  });
});

Deno.test("an upload names a missing file and a bad evidence_field at once", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const form = new FormData();
    form.append("evidence_field", "nope");
    const encoded = new Response(form);
    const res = await w.t.app.request(`${API}/disputes/${dispute.id}/files`, {
      method: "POST",
      headers: {
        ...authHeaders(support),
        "content-type": encoded.headers.get("content-type")!,
        "if-match": "garbage",
      },
      body: new Uint8Array(await encoded.arrayBuffer()),
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.deepEqual(paths(body), ["body.evidence_field", "body.file", "header.if-match"]);
    const missing = body.errors.find((e: Problem) => e.path === "body.file");
    assert.match(missing.message, /send the file as a form field `file`/);
    // and the document says so, so Swagger UI's Try it out asks for the file first
    const doc = await (await w.t.app.request("/openapi.json")).json();
    const declared = doc.paths["/api/admin/payments/disputes/{id}/files"].post.requestBody
      .content["multipart/form-data"].schema;
    assert.deepEqual(declared.required, ["file"]);
  });
});

Deno.test("a refund's approve in the queue names an unknown field and the missing approval_hash at once", async () => {
  await withRefundWorld(async (w) => {
    const res = await w.t.app.request(
      `/api/admin/approvals/rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R/approve`,
      jsonRequest("POST", authHeaders(w.operator), { extra: 1 }),
    );
    assert.equal(res.status, 422);
    assert.deepEqual(paths(await res.json()), ["body.approval_hash", "body.extra"]);
  });
});

Deno.test("an If-Match that is no entity tag is 422 on the header saying to quote draft.hash, nothing saved", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const first = await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada",
    });
    const hash = first.body.draft.hash;
    for (const tag of [hash, "garbage", `"${hash}`]) {
      const res = await w.t.app.request(
        `${API}/disputes/${dispute.id}/evidence`,
        jsonRequest("PUT", { ...authHeaders(support), "if-match": tag }, { customer_name: "Bo" }),
      );
      assert.equal(res.status, 422, tag);
      const body = await res.json();
      assert.equal(body.code, "validation_failed");
      assert.deepEqual(paths(body), ["header.if-match"]);
      assert.match(body.errors[0].message, /double quotes/);
      assert.doesNotMatch(body.detail, /changed since you read it/);
    }
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.evidence?.customer_name, "Ada");
    // quoted, weak and `*` are entity tags: judged against the draft as before
    const quoted = await w.t.app.request(
      `${API}/disputes/${dispute.id}/evidence`,
      jsonRequest("PUT", { ...authHeaders(support), "if-match": "*" }, { customer_name: "Bo" }),
    );
    assert.equal(quoted.status, 200);
    await quoted.body?.cancel();
  });
});

Deno.test("an upload's unquoted If-Match is 422 before anything reaches Stripe", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const req = await uploadRequest(support.token, new Blob([PNG], { type: "image/png" }), "r.png");
    const res = await w.t.app.request(`${API}/disputes/${dispute.id}/files`, {
      ...req,
      headers: { ...req.headers, "if-match": "9b74c9897bac770ffc029102a200c5de" },
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.deepEqual(paths(body), ["header.if-match"]);
    assert.match(body.errors[0].message, /"9b74c9897bac770ffc029102a200c5de"/);
    assert.equal((await w.stripe.files.list({ limit: 10 })).data.length, 0);
  });
});

Deno.test("a body over the route's limit names its field and rule: a note's text, an upload's file", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const note = await w.t.app.request(
      `${API}/disputes/${dispute.id}/notes`,
      jsonRequest("POST", authHeaders(support), { text: "x".repeat(100_000) }),
    );
    assert.equal(note.status, 413);
    const noted = await note.json();
    assert.equal(noted.code, "payload_too_large");
    assert.deepEqual(paths(noted), ["body.text"]);
    assert.match(noted.detail, /text.*at most 2,000 characters/);
    const big = new Uint8Array(30 * 1024 * 1024);
    big.set(PNG);
    const file = await w.t.app.request(
      `${API}/disputes/${dispute.id}/files`,
      await uploadRequest(support.token, new Blob([big], { type: "image/png" }), "big.png"),
    );
    assert.equal(file.status, 413);
    const filed = await file.json();
    assert.deepEqual(paths(filed), ["body.file"]);
    assert.match(filed.detail, /at most 5 MB.*shrink.*split/);
    assert.equal(filed.limit, 5 * 1024 * 1024 + 64 * 1024);
  });
});

Deno.test("evidence text counts UTF-16 code units, as Stripe's limit is kept, and says so", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const res = await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, {
      uncategorized_text: "😀".repeat(10_001),
    });
    assert.equal(res.status, 422);
    assert.match(
      res.body.errors[0].message,
      /at most 20000 characters counted in UTF-16 code units .*emoji.*counts as two.*20002.*shorten it by 2/,
    );
    const plain = await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, {
      uncategorized_text: "x".repeat(20_001),
    });
    assert.doesNotMatch(plain.body.errors[0].message, /UTF-16/);
  });
});

Deno.test("a stage or an upload Stripe lost the answer to says what to send again on that route", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const down = w.emu.faults.inject({
      kind: "server_error",
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}`,
      times: Infinity,
    });
    const saved = await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada",
    });
    down.remove();
    assert.equal(saved.status, 200);
    const error = saved.body.draft.stage_error;
    assert.doesNotMatch(error, /Idempotency-Key/);
    assert.match(error, /save the same draft again/);
    const lost = w.emu.faults.inject({
      kind: "server_error",
      method: "POST",
      path: "/v1/files",
      times: Infinity,
    });
    const res = await w.t.app.request(
      `${API}/disputes/${dispute.id}/files`,
      await uploadRequest(support.token, new Blob([PNG], { type: "image/png" }), "r.png"),
    );
    lost.remove();
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.doesNotMatch(body.detail, /Idempotency-Key/);
    assert.match(body.detail, /same file .*same field/);
  });
});
