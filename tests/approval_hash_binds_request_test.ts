/**
 * An approval's hash binds the request itself (README, "A first session": the approver "approves
 * exactly what they read, by its approval.hash"): two refunds alike in payment, amount and reason
 * have different hashes, so one's hash approves nothing but it; the note the approver reads is
 * bound too. The queue's own requests (`apr_…`) bind their id and requester the same way. A
 * request stored with the hash's earlier form stays approvable by the hash it shows.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { withTestApp } from "./helpers/app.ts";
import { adminContext, createAdmin } from "./helpers/identity.ts";
import { keys } from "../kv/keys.ts";
import { sha256Hex } from "../core/encoding.ts";
import { stableJson } from "../services/approvals/rules.ts";
import type { RefundRecord } from "../domain/refund.ts";
import type { ApprovalRequest } from "../domain/approval.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };
const BASE = "/api/admin/payments";

Deno.test("one refund's approval.hash does not approve another alike on the same payment", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const ask = (note: string, confirm?: boolean) =>
      w.t.app.request(
        `${BASE}/refunds`,
        jsonRequest("POST", otpHeaders(w.t, w.operator), {
          transaction_id: pay.txnId,
          amount: 5000,
          reason: "requested_by_customer",
          note,
          ...(confirm ? { confirm_duplicate: true } : {}),
        }),
      );
    const resA = await ask("RMA-1 item returned, checked by warehouse");
    const a = await resA.json();
    assert.equal(resA.status, 202, JSON.stringify(a));
    const resB = await ask("goodwill", true);
    const b = await resB.json();
    assert.equal(resB.status, 202, JSON.stringify(b));
    assert.equal(a.confirm_duplicate, false);
    assert.equal(b.confirm_duplicate, true);
    assert.notEqual(a.approval.hash, b.approval.hash);

    const approve = (id: string, hash: string) =>
      w.t.app.request(
        `${BASE}/refunds/${id}/approve`,
        jsonRequest("POST", otpHeaders(w.t, w.operator2), { approval_hash: hash }),
      );
    const wrong = await approve(b.id, a.approval.hash);
    const problem = await wrong.json();
    assert.equal(wrong.status, 409, JSON.stringify(problem));
    assert.equal(problem.errors?.[0]?.path, "body.approval_hash");
    assert.equal((await w.t.services.refunds.get(b.id)).status, "awaiting_approval");
    // the same through the queue
    const queued = await w.t.app.request(
      `/api/admin/approvals/${b.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), { approval_hash: a.approval.hash }),
    );
    assert.equal(queued.status, 409, await queued.text());
    assert.equal((await w.t.services.refunds.get(b.id)).status, "awaiting_approval");

    const right = await approve(b.id, b.approval.hash);
    assert.equal(right.status, 200, await right.text());
    assert.equal((await w.t.services.refunds.get(a.id)).status, "awaiting_approval");
  }, { env: ENV });
});

Deno.test("a refund's note changed in the store after it was asked is not approved", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const asked = await w.t.services.refunds.create(w.ctx(w.operator), {
      transaction_id: pay.txnId,
      amount: 6000,
      reason: "requested_by_customer",
      note: "RMA-7 returned",
    });
    const id = asked.refund.id;
    const hash = asked.refund.approval.hash!;
    const entry = await w.t.kv.get<RefundRecord>(keys.refund(id));
    await w.t.kv.set(keys.refund(id), { ...entry.value!, note: "goodwill, no RMA" });
    const res = await w.t.app.request(
      `${BASE}/refunds/${id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), { approval_hash: hash }),
    );
    const problem = await res.json();
    assert.equal(res.status, 409, JSON.stringify(problem));
    assert.match(problem.detail, /not what was requested/);
    assert.equal((await w.t.services.refunds.get(id)).status, "awaiting_approval");
  }, { env: ENV });
});

Deno.test("a refund asked before the hash bound the refund itself is approved by the hash it shows", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const asked = await w.t.services.refunds.create(w.ctx(w.operator), {
      transaction_id: pay.txnId,
      amount: 6000,
      reason: "requested_by_customer",
      note: "older request",
    });
    const id = asked.refund.id;
    // as stored before: the hash of transaction, amount, currency and reason, no confirm_duplicate
    const entry = await w.t.kv.get<RefundRecord>(keys.refund(id));
    const { confirm_duplicate: _, ...r } = entry.value!;
    const legacy = sha256Hex(JSON.stringify([r.transaction_id, r.amount, r.currency, r.reason]));
    await w.t.kv.set(keys.refund(id), { ...r, approval_hash: legacy });
    const shown = await w.t.services.refunds.get(id);
    assert.equal(shown.approval.hash, legacy);
    assert.equal(shown.confirm_duplicate, false);
    const res = await w.t.app.request(
      `${BASE}/refunds/${id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), { approval_hash: legacy }),
    );
    assert.equal(res.status, 200, await res.text());
    assert.equal((await w.t.services.refunds.get(id)).status, "succeeded");
  }, { env: ENV });
});

Deno.test("approvals: one request's approval_hash does not approve another alike", async () => {
  await withTestApp(async (t) => {
    let runs = 0;
    t.services.approvals.register("fraud.rule_disable", {
      execute: async () => {
        await Promise.resolve();
        runs++;
      },
    });
    const [a, b, c] = [
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
    ];
    const ask = (by: typeof a) =>
      t.services.approvals.request(
        "fraud.rule_disable",
        { rule: "velocity", enabled: false },
        adminContext(by),
        { summary: "disable rule velocity", target: { type: "fraud_rule", id: "velocity" } },
      );
    const first = await ask(a);
    const second = await ask(b);
    assert.notEqual(first.id, second.id);
    assert.notEqual(first.approval_hash, second.approval_hash);
    const wrong = await t.app.request(
      `/api/admin/approvals/${second.id}/approve`,
      jsonRequest("POST", otpHeaders(t, c), { approval_hash: first.approval_hash }),
    );
    const wrongText = await wrong.text();
    assert.equal(wrong.status, 409, wrongText);
    // the refusal names neither request's hash but the one sent: read the request again
    assert.ok(!wrongText.includes(second.approval_hash), wrongText);
    assert.match(wrongText, new RegExp(`GET /api/admin/approvals/${second.id}`));
    assert.equal(runs, 0);
    assert.equal((await t.services.approvals.get(second.id)).status, "pending");

    // a request stored with the earlier form of the hash (kind, payload, target) is approved by it
    const stored = (await t.kv.get<ApprovalRequest>(keys.approval(first.id))).value!;
    const legacy = sha256Hex(stableJson([stored.kind, stored.payload, stored.target]));
    await t.kv.set(keys.approval(first.id), { ...stored, approval_hash: legacy });
    const ok = await t.app.request(
      `/api/admin/approvals/${first.id}/approve`,
      jsonRequest("POST", otpHeaders(t, c), { approval_hash: legacy }),
    );
    assert.equal(ok.status, 200, await ok.text());
    assert.equal(runs, 1);
  });
});
