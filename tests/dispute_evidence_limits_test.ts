/**
 * Evidence at Stripe's limits (README, "Dispute workbench"): each text field
 * at most its own maximum (20,000 characters for the long explanations,
 * 5,000 for the rest), all of them at most 150,000; text with control
 * characters or broken Unicode refused. The largest draft there can be, in
 * the characters that take the most room, is stored, audited, staged,
 * submitted (with an Idempotency-Key, whose stored answer must fit too) and
 * replayed within KV's 64 KiB value and atomic commit limits.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment } from "./helpers/disputes.ts";
import { auditEntries, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { checkDraft } from "../services/disputes/evidence_rules.ts";
import { EVIDENCE_CHAR_BUDGET } from "../domain/dispute_evidence.ts";

const LONG = [
  "access_activity_log",
  "cancellation_policy_disclosure",
  "cancellation_rebuttal",
  "duplicate_charge_explanation",
  "product_description",
  "refund_policy_disclosure",
  "refund_refusal_explanation",
  "uncategorized_text",
];

/** `n` characters that each take two in JSON (`"`, `\`) and make the string two bytes a character. */
function heavy(n: number): string {
  return Array.from({ length: n }, (_, i) => ['"', "\\", "中"][i % 3]).join("");
}

Deno.test("checkDraft(): a field over its own maximum is named with the limit and the fix", () => {
  const { errors } = checkDraft({
    uncategorized_text: "x".repeat(20_001),
    customer_name: "y".repeat(5_001),
    enhanced_evidence: {
      visa_compelling_evidence_3: {
        disputed_transaction: { customer_account_id: "z".repeat(5_001) },
      },
    },
  });
  const byPath = Object.fromEntries(errors.map((e) => [e.path, e.message]));
  assert.match(
    byPath["body.uncategorized_text"],
    /at most 20000 characters.*20001.*shorten it by 1/,
  );
  assert.match(byPath["body.customer_name"], /at most 5000 characters.*5001.*shorten it by 1/);
  assert.match(
    byPath[
      "body.enhanced_evidence.visa_compelling_evidence_3.disputed_transaction.customer_account_id"
    ],
    /at most 5000 characters/,
  );
  assert.equal(errors.length, 3, JSON.stringify(errors));
  const atMost = checkDraft({
    uncategorized_text: "x".repeat(20_000),
    customer_name: "y".repeat(5_000),
  });
  assert.deepEqual(atMost.errors, []);
});

Deno.test("checkDraft(): control characters and broken Unicode are refused by field; tabs and new lines are text", () => {
  const { errors } = checkDraft({
    customer_name: "Ada\u0000",
    uncategorized_text: "half a pair \ud800",
    product_description: "line one\nline two\r\n\tindented",
  });
  const byPath = Object.fromEntries(errors.map((e) => [e.path, e.message]));
  assert.deepEqual(Object.keys(byPath).sort(), ["body.customer_name", "body.uncategorized_text"]);
  assert.match(byPath["body.customer_name"], /control character U\+0000 at 3/);
  assert.match(byPath["body.uncategorized_text"], /not well-formed Unicode/);
});

Deno.test("the largest draft there can be is stored, audited, staged, submitted and replayed", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const draft: Record<string, string> = {};
    for (const f of LONG.slice(0, 7)) draft[f] = heavy(20_000);
    draft.customer_name = heavy(5_000);
    draft.billing_address = heavy(5_000);
    const total = Object.values(draft).reduce((n, v) => n + v.length, 0);
    assert.equal(total, EVIDENCE_CHAR_BUDGET);
    const path = `/disputes/${dispute.id}/evidence`;
    const saved = await call(w, w.operator, "PUT", path, draft);
    assert.equal(
      saved.status,
      200,
      w.t.logs.filter((l) => /error/.test(l)).join("\n").slice(0, 3000),
    );
    assert.equal(saved.body.evidence_budget.remaining, 0);
    assert.deepEqual(saved.body.evidence, draft);
    assert.equal(saved.body.draft.staged, true, saved.body.draft.stage_error);
    const entry = (await auditEntries(w.t.kv)).find((e) => e.action === "dispute.evidence_saved");
    assert.ok(entry);
    assert.equal((entry.after as { chars: number }).chars, EVIDENCE_CHAR_BUDGET);
    // one more character anywhere is over the budget
    const over = await call(w, w.operator, "PUT", path, { ...draft, shipping_carrier: "U" });
    assert.equal(over.status, 422);
    assert.equal(over.body.errors[0].path, "body");
    assert.match(over.body.errors[0].message, /shorten it by 1/);

    const submit = async () => {
      w.clock.advance(31_000);
      const res = await w.t.app.request(
        `${API}/disputes/${dispute.id}/submit`,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator), "idempotency-key": "big-1" }),
      );
      return {
        status: res.status,
        replayed: res.headers.get("idempotent-replayed"),
        body: await res.json(),
      };
    };
    const first = await submit();
    assert.equal(
      first.status,
      200,
      w.t.logs.filter((l) => /error/.test(l)).join("\n").slice(0, 3000),
    );
    assert.equal(first.body.phase, "submitted");
    assert.deepEqual(first.body.evidence, draft);
    const replay = await submit();
    assert.equal(replay.status, 200, JSON.stringify(replay.body).slice(0, 500));
    assert.equal(replay.replayed, "true");
    assert.deepEqual(replay.body.evidence, draft);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 1);
    assert.equal(atStripe.evidence.uncategorized_text, null);
    assert.equal(atStripe.evidence.access_activity_log, draft.access_activity_log);
    assert.equal((await w.t.services.audit.verify()).ok, true);
  });
});

Deno.test("PUT evidence: an oversize field is 422 naming the field and its limit; nothing written", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const res = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      product_description: "x".repeat(20_001),
    });
    assert.equal(res.status, 422, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.code, "validation_failed");
    assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), [
      "body.product_description",
    ]);
    assert.match(res.body.errors[0].message, /at most 20000 characters/);
    assert.equal((await w.t.services.disputes.get(dispute.id)).draft, null);
  });
});

Deno.test("accept under an Idempotency-Key on a dispute with the largest draft is answered and replayed", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const draft: Record<string, string> = {};
    for (const f of LONG.slice(0, 7)) draft[f] = heavy(20_000);
    draft.customer_name = heavy(10_000).slice(0, 5_000);
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, draft);
    assert.equal(saved.status, 200);
    const accept = async () => {
      w.clock.advance(31_000);
      const res = await w.t.app.request(
        `${API}/disputes/${dispute.id}/accept`,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator), "idempotency-key": "acc-1" }, {
          note: "not worth fighting",
        }),
      );
      return {
        status: res.status,
        replayed: res.headers.get("idempotent-replayed"),
        body: await res.json(),
      };
    };
    const first = await accept();
    assert.equal(first.status, 200, JSON.stringify(first.body).slice(0, 500));
    assert.equal(first.body.status, "lost");
    const replay = await accept();
    assert.equal(replay.status, 200, JSON.stringify(replay.body).slice(0, 500));
    assert.equal(replay.replayed, "true");
    assert.equal(replay.body.status, "lost");
    assert.deepEqual(replay.body.evidence, draft);
  });
});
