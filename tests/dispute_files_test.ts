import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment, PNG, uploadRequest as upload } from "./helpers/disputes.ts";
import { createAdmin } from "./helpers/identity.ts";

Deno.test("a file upload goes through Stripe's Files API and its id lands in the evidence", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    await call(w, support, "PUT", `/disputes/${dispute.id}/evidence`, { customer_name: "Ada" });
    const res = await w.t.app.request(
      `${API}/disputes/${dispute.id}/files`,
      await upload(support.token, new Blob([PNG], { type: "image/png" }), "receipt.png", "receipt"),
    );
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.match(body.evidence.receipt, /^file_/);
    assert.equal(body.evidence.customer_name, "Ada");
    const file = await w.stripe.files.retrieve(body.evidence.receipt);
    assert.equal(file.purpose, "dispute_evidence");
    assert.equal(file.size, PNG.length);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence.receipt, body.evidence.receipt);
    assert.equal(atStripe.evidence_details.submission_count, 0);
  });
});

Deno.test("a file that is not a PDF, JPEG or PNG is 415; one over 5 MB is 413", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `${API}/disputes/${dispute.id}/files`;
    const text = await w.t.app.request(
      path,
      await upload(w.operator.token, new Blob(["hello"], { type: "image/png" }), "fake.png"),
    );
    assert.equal(text.status, 415);
    const notImage = await text.json();
    assert.equal(notImage.code, "unsupported_media_type");
    assert.equal(notImage.errors[0].path, "body.file");
    assert.match(notImage.errors[0].message, /send it as a PDF, JPEG or PNG/);
    const big = new Uint8Array(5 * 1024 * 1024 + 1);
    big.set(PNG);
    const tooBig = await w.t.app.request(
      path,
      await upload(w.operator.token, new Blob([big], { type: "image/png" }), "big.png"),
    );
    assert.equal(tooBig.status, 413);
    const over = await tooBig.json();
    assert.equal(over.code, "payload_too_large");
    assert.equal(over.errors?.[0]?.path, "body.file", JSON.stringify(over));
    assert.match(over.errors[0].message, /at most 5242880 bytes.*shrink|split/);
    assert.equal((await w.t.services.disputes.get(dispute.id)).draft, null);
  });
});

Deno.test("uploads pay the Files sub-bucket (20/s) as well as the shared budget", async () => {
  await withRefundWorld(async (w) => {
    const started = w.clock.now();
    for (let i = 0; i < 25; i++) {
      await w.t.deps.stripe.call((s) =>
        s.files.create({
          purpose: "dispute_evidence",
          file: { data: PNG, name: `f${i}.png`, type: "image/png" },
        })
      );
    }
    // 20 from the burst, then one every 50 ms: the shared budget (10,000/s) never waits
    assert.ok(w.clock.now() - started >= 200, `waited ${w.clock.now() - started} ms`);
  });
});

Deno.test("parallel uploads to different evidence fields all land in the draft", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const fields = ["receipt", "refund_policy", "customer_communication", "shipping_documentation"];
    fields.push("uncategorized_file");
    const results = await Promise.all(fields.map(async (f) => {
      const png = new Blob([PNG], { type: "image/png" });
      const res = await w.t.app.request(
        `${API}/disputes/${dispute.id}/files`,
        await upload(support.token, png, `${f}.png`, f),
      );
      return { status: res.status, body: await res.json() };
    }));
    assert.deepEqual(results.map((r) => r.status), fields.map(() => 201));
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.deepEqual(Object.keys(shown.evidence ?? {}).sort(), [...fields].sort());
    for (const f of fields) {
      assert.match(String((shown.evidence as Record<string, string>)[f]), /^file_/);
    }
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    if (shown.draft?.staged) {
      for (const f of fields) {
        assert.equal(
          (atStripe.evidence as unknown as Record<string, string>)[f],
          (shown.evidence as Record<string, string>)[f],
        );
      }
    }
  });
});

Deno.test("a malformed multipart upload is 422 validation_failed naming the problem, not 500", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const cases: [string, string][] = [
      ["multipart/form-data", "garbage"],
      ["multipart/form-data; boundary=xyz", "garbage"],
      ["multipart/form-data; boundary=xyz", ""],
    ];
    for (const [type, body] of cases) {
      const res = await w.t.app.request(`${API}/disputes/${dispute.id}/files`, {
        method: "POST",
        headers: { authorization: `Bearer ${w.operator.token}`, "content-type": type },
        body,
      });
      const problem = await res.json();
      assert.equal(res.status, 422, `${type}: ${JSON.stringify(problem)}`);
      assert.equal(problem.code, "validation_failed");
      assert.equal(problem.errors[0].path, "body");
      assert.match(problem.errors[0].message, /multipart|boundary|form data/i);
    }
  });
});

Deno.test("two files in one upload are 422 saying to send one file per request; nothing is uploaded", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const png = new Blob([PNG], { type: "image/png" });
    const res = await w.t.app.request(
      `${API}/disputes/${dispute.id}/files`,
      await upload(w.operator.token, [png, png], "receipt.png"),
    );
    const problem = await res.json();
    assert.equal(res.status, 422, JSON.stringify(problem));
    assert.equal(problem.errors[0].path, "body.file");
    assert.match(problem.errors[0].message, /one file per request/);
    assert.equal((await w.stripe.files.list()).data.length, 0);
  });
});

Deno.test("an upload with a part the route does not take (a misspelled evidence_field) is 422 naming it; nothing is uploaded", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const form = new FormData();
    form.append("file", new Blob([PNG], { type: "image/png" }), "receipt.png");
    form.append("evidence_feild", "receipt");
    const encoded = new Response(form);
    const res = await w.t.app.request(`${API}/disputes/${dispute.id}/files`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${w.operator.token}`,
        "content-type": encoded.headers.get("content-type")!,
      },
      body: new Uint8Array(await encoded.arrayBuffer()),
    });
    const problem = await res.json();
    assert.equal(res.status, 422, JSON.stringify(problem));
    assert.equal(problem.code, "validation_failed");
    const named = problem.errors.find((e: { path: string }) => e.path === "body.evidence_feild");
    assert.ok(named, JSON.stringify(problem.errors));
    assert.match(named.message, /evidence_field/);
    assert.equal((await w.stripe.files.list()).data.length, 0);
    assert.equal((await w.t.services.disputes.get(dispute.id)).draft, null);
  });
});
