import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment } from "./helpers/disputes.ts";
import { auditEntries, createAdmin, jsonRequest } from "./helpers/identity.ts";
import { checkDraft } from "../services/disputes/evidence_rules.ts";
import { type DisputeRecord, phaseOf, submitRefusal } from "../domain/dispute.ts";
import {
  checklistFor,
  EVIDENCE_FILE_FIELDS,
  EVIDENCE_TEXT_FIELDS,
  evidenceFieldMax,
} from "../domain/dispute_evidence.ts";

/** `chars` characters of text, each field at most its own limit (20,000 or 5,000). */
function atMost(chars: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of EVIDENCE_TEXT_FIELDS) {
    const n = Math.min(chars, evidenceFieldMax(f));
    if (n <= 0) break;
    out[f] = "x".repeat(n);
    chars -= n;
  }
  return out;
}

Deno.test("checkDraft() names every unknown field, wrong type and the budget overrun", () => {
  const { errors } = checkDraft({
    ...atMost(155_001), // customer_name's 5,000 of them replaced by a number below
    customer_name: 42,
    receipt: "not-a-file",
    shipping_carier: "UPS",
    enhanced_evidence: { visa_compelling_evidence_3: { disputed_transaction: { colour: "red" } } },
  });
  assert.deepEqual(errors.map((e) => e.path).sort(), [
    "body",
    "body.customer_name",
    "body.enhanced_evidence.visa_compelling_evidence_3.disputed_transaction.colour",
    "body.receipt",
    "body.shipping_carier",
  ]);
  assert.match(errors.find((e) => e.path === "body")!.message, /150001 characters.*150000/);
  // Visa's fields are worded like every other field: the unknown one named, the closest known
  assert.match(
    errors.find((e) => e.path.endsWith(".colour"))!.message,
    /^colour is not a known field/,
  );
  assert.equal(EVIDENCE_TEXT_FIELDS.length + EVIDENCE_FILE_FIELDS.length, 27);
});

Deno.test("checkDraft() takes Visa Compelling Evidence 3.0 and counts its text", () => {
  const { errors, chars, draft } = checkDraft({
    product_description: "abc",
    enhanced_evidence: {
      visa_compelling_evidence_3: {
        disputed_transaction: {
          customer_email_address: "a@b.co",
          merchandise_or_services: "services",
        },
        prior_undisputed_transactions: [{ charge: "ch_1", customer_purchase_ip: "1.2.3.4" }],
      },
    },
  });
  assert.deepEqual(errors, []);
  assert.equal(chars, 3 + 6 + 8 + 4 + 7);
  assert.ok(draft.enhanced_evidence);
});

Deno.test("the checklist follows the reason", () => {
  const fraud = checklistFor("fraudulent", { customer_name: "A" }).map((i) => i.field);
  assert.ok(fraud.includes("customer_purchase_ip"));
  const pnr = checklistFor("product_not_received", {}).map((i) => i.field);
  assert.ok(pnr.includes("shipping_tracking_number"));
  const sub = checklistFor("subscription_canceled", {}).map((i) => i.field);
  assert.ok(sub.includes("cancellation_rebuttal"));
});

Deno.test("PUT evidence: an over-budget or unknown-field draft is refused with field errors, nothing written", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const path = `/disputes/${dispute.id}/evidence`;
    const unknown = await call(w, support, "PUT", path, { customer_name: "A", favourite: "x" });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.code, "validation_failed");
    assert.deepEqual(unknown.body.errors.map((e: { path: string }) => e.path), ["body.favourite"]);
    const over = await call(w, support, "PUT", path, atMost(150_001));
    assert.equal(over.status, 422);
    assert.match(over.body.errors[0].message, /shorten it by 1/);
    const after = await w.t.services.disputes.get(dispute.id);
    assert.equal(after.draft, null);
    assert.equal(after.evidence, null);
    const viewer = await createAdmin(w.t, "viewer");
    assert.equal((await call(w, viewer, "PUT", path, { customer_name: "A" })).status, 403);
  });
});

Deno.test("PUT evidence: a full draft is kept in chunks and read back whole", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const big = Object.fromEntries(
      Object.entries(atMost(149_000)).map(([k, v], i) => [k, i < 5 ? "é".repeat(v.length) : v]),
    );
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, big);
    assert.equal(saved.status, 200, JSON.stringify(saved.body).slice(0, 300));
    assert.ok(saved.body.draft.chunks > 1);
    assert.equal(saved.body.evidence_budget.remaining, 1000);
    const read = await w.t.services.disputes.get(dispute.id);
    assert.deepEqual(read.evidence, big);
    const tooBig = await w.t.app.request(
      `${API}/disputes/${dispute.id}/evidence`,
      jsonRequest("PUT", { authorization: `Bearer ${w.operator.token}` }, {
        uncategorized_text: "x".repeat(1100 * 1024),
      }),
    );
    assert.equal(tooBig.status, 413);
    await tooBig.body?.cancel();
  });
});

Deno.test("notes, assignment, filters and the deadline sort", async () => {
  await withRefundWorld(async (w) => {
    const first = await disputedPayment(w);
    w.clock.advance(2000);
    const second = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const noted = await call(w, support, "POST", `/disputes/${first.dispute.id}/notes`, {
      text: "called the customer",
    });
    assert.equal(noted.status, 201);
    assert.equal(noted.body.notes[0].text, "called the customer");
    assert.equal(noted.body.notes[0].by, support.id);
    const assigned = await call(w, support, "PATCH", `/disputes/${second.dispute.id}`, {
      assignee: support.id,
    });
    assert.equal(assigned.status, 200);
    assert.equal(assigned.body.assignee, support.id);
    assert.equal(assigned.body.history.at(-1).action, "assign");
    const bad = await call(w, support, "PATCH", `/disputes/${second.dispute.id}`, {
      assignee: "adm_nobody",
    });
    assert.equal(bad.status, 422);
    const mine = await call(w, support, "GET", `/disputes?assignee=${support.id}`);
    assert.deepEqual(mine.body.data.map((d: { id: string }) => d.id), [second.dispute.id]);
    const week = new Date(w.clock.now() + 8 * 86400_000).toISOString();
    const due = await call(w, support, "GET", `/disputes?due_before=${week}`);
    assert.deepEqual(due.body.data.map((d: { id: string }) => d.id), [
      first.dispute.id,
      second.dispute.id,
    ]);
    const soon = new Date(Date.parse(first.dispute.evidence_due_by!) + 1000).toISOString();
    const one = await call(w, support, "GET", `/disputes?due_before=${soon}`);
    assert.deepEqual(one.body.data.map((d: { id: string }) => d.id), [first.dispute.id]);
    const phase = await call(
      w,
      support,
      "GET",
      `/disputes?phase=needs_response&status=needs_response`,
    );
    assert.equal(phase.body.data.length, 2);
    const byDu = await call(w, support, "GET", `/disputes/${first.dispute.stripe_dispute}`);
    assert.equal(byDu.body.id, first.dispute.id);
  });
});

Deno.test("submitRefusal(): once per round; an appeal opens the next round", () => {
  const base = {
    status: "needs_response",
    evidence_due_by: 2_000_000_000,
    submission_count: 0,
    submission: null,
  } as unknown as DisputeRecord;
  const now = 1_900_000_000_000;
  assert.equal(submitRefusal(base, now), null);
  const submission = {
    round: 0,
    attempt: 1,
    state: "submitted",
    requested_by: "adm_1",
    requested_at: "2030-01-01T00:00:00Z",
  } as DisputeRecord["submission"];
  const reviewed = { ...base, status: "under_review", submission_count: 1, submission };
  assert.match(submitRefusal(reviewed, now)!, /already submitted in this round/);
  const appeal = { ...reviewed, status: "appeal_needs_response" };
  assert.equal(submitRefusal(appeal, now), null);
  assert.equal(phaseOf({ ...appeal, draft: null }), "needs_response");
  assert.match(submitRefusal({ ...base, evidence_due_by: null }, now)!, /no response/);
  assert.match(submitRefusal({ ...base, status: "lost" }, now)!, /closed/);
  assert.match(submitRefusal(base, 2_000_000_000_000)!, /deadline passed/);
});

Deno.test("PUT evidence: Visa Compelling Evidence 3.0 is staged at Stripe too", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const enhanced = {
      visa_compelling_evidence_3: {
        disputed_transaction: {
          customer_email_address: "ada@example.com",
          merchandise_or_services: "merchandise",
        },
      },
    };
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada",
      enhanced_evidence: enhanced,
    });
    assert.equal(saved.status, 200);
    assert.equal(saved.body.draft.staged, true);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence.customer_name, "Ada");
    assert.deepEqual(saved.body.evidence.enhanced_evidence, enhanced);
    assert.equal(atStripe.evidence_details.submission_count, 0);
  });
});

Deno.test("checkDraft() words Visa Compelling Evidence 3.0's problems by field and fix, not in zod's words", () => {
  const { errors } = checkDraft({
    enhanced_evidence: {
      visa_compliance: { fee_acknowledged: "yes" },
      visa_compelling_evidence_3: {
        disputed_transaction: { merchandise_or_services: "goods" },
        prior_undisputed_transactions: [{ charge: "pi_1" }],
      },
    },
  });
  const V = "body.enhanced_evidence.visa_compelling_evidence_3";
  assert.deepEqual(Object.fromEntries(errors.map((e) => [e.path, e.message])), {
    "body.enhanced_evidence.visa_compliance.fee_acknowledged": "fee_acknowledged must be a boolean",
    [`${V}.disputed_transaction.merchandise_or_services`]:
      "merchandise_or_services must be one of merchandise, services",
    [`${V}.prior_undisputed_transactions.0.charge`]: "charge must be a charge id (ch_… or py_…)",
  });
});

Deno.test("a note sent again (a second click, a burst) is one note; the same words later, or by another, are another", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const support = await createAdmin(w.t, "support");
    const other = await createAdmin(w.t, "support");
    const path = `/disputes/${dispute.id}/notes`;
    const text = "customer says the parcel never arrived";
    const burst = await Promise.all(
      Array.from({ length: 5 }, () => call(w, support, "POST", path, { text })),
    );
    assert.deepEqual(burst.map((r) => r.status), [201, 201, 201, 201, 201]);
    const notesNow = async () =>
      (await call(w, support, "GET", `/disputes/${dispute.id}`)).body.notes as { by: string }[];
    assert.equal((await notesNow()).length, 1, "one note for the burst");
    for (const r of burst) assert.equal(r.body.notes.length, 1);
    const audited = (await auditEntries(w.t.kv)).filter((e) => e.action === "dispute.note");
    assert.equal(audited.length, 1);
    // another admin's same words are their note
    await call(w, other, "POST", path, { text });
    assert.equal((await notesNow()).length, 2);
    // the same words again a minute after: a second note
    w.clock.advance(61_000);
    await call(w, other, "POST", path, { text });
    assert.equal((await notesNow()).length, 3);
  });
});
