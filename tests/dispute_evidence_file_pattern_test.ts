/**
 * The evidence draft's file fields (`receipt`, …) take a file id (`file_…`): the OpenAPI document
 * says so in each field's `pattern`, and the pattern is the server's check (README "API": the
 * document is the contract), so a value the document refuses is the 422 naming the field and the
 * fix, and one it takes passes the check.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";
import { checkDraft } from "../services/disputes/evidence_rules.ts";
import { EVIDENCE_FILE_FIELDS } from "../domain/dispute_evidence.ts";

const SAMPLES = [
  "hello world",
  "file_",
  "file_1QxYzAbC",
  "file_a_b_C9",
  `file_${"a".repeat(120)}`,
  `file_${"a".repeat(121)}`,
  "file_a-b",
  "FILE_abc",
  "file_abc\n",
  " file_abc",
  "",
];

Deno.test("every evidence file field declares the file_… pattern the server checks", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const props = doc.components.schemas.DisputeEvidence.properties;
    for (const field of EVIDENCE_FILE_FIELDS) {
      const pattern = props[field]?.pattern;
      assert.equal(typeof pattern, "string", `${field}: no pattern in the document`);
      const takes = new RegExp(pattern);
      for (const value of SAMPLES) {
        const errors = checkDraft({ [field]: value }).errors.filter((e) =>
          e.path === `body.${field}`
        );
        assert.equal(errors.length === 0, takes.test(value), `${field} = ${JSON.stringify(value)}`);
      }
    }
  });
});

Deno.test("a file field off the pattern keeps its message: the field, a file id and where to get one", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 4200);
    const res = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      receipt: "hello world",
    });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.deepEqual(res.body.errors, [{
      path: "body.receipt",
      message:
        "receipt must be a file id (file_…) from POST /api/admin/payments/disputes/{id}/files",
    }]);
  });
});
