/**
 * Amounts in texts people read (ops alerts, approval summaries) are in the
 * currency's major unit with its decimals, not Stripe's minor units: 6400 usd
 * is "64.00 USD", 100000 jpy "100,000 JPY", 1230 kwd "1.230 KWD".
 */
import assert from "node:assert/strict";
import { formatMoney } from "../domain/money.ts";
import { askRefund, statusOf, withRefundWorld } from "./helpers/refunds.ts";
import { disputedPayment } from "./helpers/disputes.ts";
import { listAllOpsAlerts } from "../kv/ops_alerts.ts";
import { refundAsApproval } from "../services/refunds/approval_source.ts";
import type { RefundView } from "../services/refunds/service.ts";
import type { ApprovalRequest } from "../domain/approval.ts";

Deno.test("formatMoney(): major units with the currency's decimals, its code in capitals, thousands grouped", () => {
  assert.equal(formatMoney(6400, "usd"), "64.00 USD");
  assert.equal(formatMoney(5, "usd"), "0.05 USD");
  assert.equal(formatMoney(0, "eur"), "0.00 EUR");
  assert.equal(formatMoney(-1250, "usd"), "-12.50 USD");
  assert.equal(formatMoney(100000, "jpy"), "100,000 JPY");
  assert.equal(formatMoney(1230, "kwd"), "1.230 KWD");
  assert.equal(formatMoney(5, "BHD"), "0.005 BHD");
  assert.equal(formatMoney(123456789012, "usd"), "1,234,567,890.12 USD");
});

Deno.test("the dispute_due_soon alert says the dispute's amount in major units", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 6400);
    w.clock.set(Date.parse(dispute.evidence_due_by!) - 10 * 3600_000);
    assert.deepEqual(await w.t.services.disputes.remind(), { reminded: 1, overdue: 0 });
    const [alert] = await listAllOpsAlerts(w.t.kv);
    assert.equal(alert.kind, "dispute_due_soon");
    assert.match(alert.detail, /\(fraudulent, 64\.00 USD\)/);
    assert.equal(alert.amount, 6400, "the record's amount stays in minor units");
  });
});

Deno.test("a refund's approval summary says its amount in major units", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(80000);
    const res = await askRefund(w, pay.txnId, 75000, "goodwill");
    assert.equal(statusOf(res), 202);
    const queue = await w.t.services.approvals.list({ status: "pending", limit: 25 });
    const listed = queue.data.find((r: ApprovalRequest) => r.id === res.refund.id);
    assert.match(listed?.summary ?? "", /^refund 750\.00 USD on txn_/);
    const yen = refundAsApproval({ ...res.refund, amount: 100000, currency: "jpy" } as RefundView);
    assert.match(yen.summary, /^refund 100,000 JPY on /);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000" } });
});
