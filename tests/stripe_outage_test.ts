/**
 * What an operator sees while Stripe is down or slowing us down (README
 * "Stripe outages"): an answer that says "try again" is never worded as a
 * mistake of the operator's, and the doctor says what is wrong with Stripe,
 * not with the configuration.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { withEmulator } from "./helpers/emulator.ts";
import { runDoctor } from "../cli/doctor.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { auditEntries, authHeaders, jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";
import { call, disputedPayment, runDisputeJobs, submitAs } from "./helpers/disputes.ts";
import { runPeriodicTask } from "../services/background.ts";

const PM_READ = "/v1/payment_methods/pm_card_visa";

Deno.test("a retry while Stripe rate-limits the card's read is 503 with Retry-After, not a bad payment_method", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    w.emu.faults.inject({ method: "GET", path: PM_READ, kind: "rate_limit", times: 10 });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.code, "stripe_unavailable");
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    assert.doesNotMatch(String(res.body.detail), /does not know/);
    // README "Stripe outages": a read the action needs first says nothing changed at Stripe
    assert.match(String(res.body.detail), /it was a read: nothing changed at Stripe/);
    // nothing was recorded: the same request goes through once Stripe lets us
    w.emu.faults.clear();
    const again = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(again.status, 201, JSON.stringify(again.body));
  });
});

Deno.test("a 429 on any read an action needs first says it was a read (saved cards, the payment's state before a card is saved)", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    w.emu.faults.inject({
      method: "GET",
      path: /\/payment_methods$/,
      kind: "rate_limit",
      times: 3,
    });
    const list = await w.get(`/api/admin/payments/customers/${f.customer}/payment-methods`);
    assert.equal(list.status, 503, JSON.stringify(list.body));
    assert.match(String(list.body.detail), /it was a read: nothing changed at Stripe/);
    w.emu.faults.clear();
    // the PaymentIntent is read before a card is saved on the customer (README "Which payments")
    const pi = `/v1/payment_intents/${f.pi.id}`;
    w.emu.faults.inject({ method: "GET", path: pi, kind: "rate_limit", times: 3 });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    assert.match(String(res.body.detail), /it was a read: nothing changed at Stripe/);
    assert.equal(res.body.retry_id, undefined, "nothing recorded");
    const saved = await w.stripe.paymentMethods.list({ customer: f.customer, type: "card" });
    assert.equal(saved.data.length, 0, "nothing saved");
    w.emu.faults.clear();
    const again = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(again.status, 201, JSON.stringify(again.body));
  });
});

Deno.test("a 5xx on a read says nothing changed at Stripe, not that Stripe may have acted", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    w.emu.faults.inject({ method: "GET", path: PM_READ, kind: "server_error", times: 10 });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    assert.doesNotMatch(String(res.body.detail), /may or may not have acted/);
    assert.match(String(res.body.detail), /a read: nothing changed at Stripe/);
  });
});

Deno.test("a retry naming a payment method Stripe does not know is still 422 on body.payment_method", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_doesnotexist" });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal((res.body.errors as { path: string }[])[0].path, "body.payment_method");
  });
});

async function stripeFinding(kind: "server_error" | "rate_limit") {
  let finding: { severity: string; detail: string; fix?: string } | undefined;
  await withEmulator(async ({ emu }) => {
    emu.faults.inject({ kind, path: /^\/v1\//, times: Infinity });
    const dir = await Deno.makeTempDir({ prefix: "outage_doctor_" });
    try {
      const findings = await runDoctor({
        env: {
          KV_PATH: `${dir}/kv.sqlite3`,
          STRIPE_SECRET_KEY: "sk_test_doctor",
          STRIPE_API_URL: emu.url,
          STRIPE_WEBHOOK_SECRETS: "whsec_" + "A1b2C3d4".repeat(4),
          AUDIT_SIGNING_KEY: "doctor-signing-key-0123456789abcdef0123",
        },
        fetch: emu.fetch,
      });
      finding = findings.find((f) => f.check === "stripe key");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  assert.ok(finding, "the Stripe key is checked");
  return finding;
}

Deno.test("doctor: Stripe answering 5xx is Stripe's trouble, not STRIPE_API_URL's", async () => {
  const f = await stripeFinding("server_error");
  assert.equal(f.severity, "fail");
  assert.match(f.detail, /Stripe answered 500/);
  assert.doesNotMatch(f.detail, /cannot reach/);
  assert.doesNotMatch(f.fix ?? "", /STRIPE_API_URL/);
  assert.match(f.fix ?? "", /reconciliation/);
});

Deno.test("doctor: Stripe rate-limiting the key says so and what to do", async () => {
  const f = await stripeFinding("rate_limit");
  assert.equal(f.severity, "fail");
  assert.match(f.detail, /rate limit/i);
  assert.doesNotMatch(f.detail, /cannot reach/);
  assert.match(f.fix ?? "", /STRIPE_RATE_LIMIT_PER_S/);
});

Deno.test("after an outage the job backlog gauges drain to 0 rather than vanish", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    w.emu.faults.inject({ method: "POST", path: "/v1/refunds", kind: "server_error" });
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", await stepUpHeaders(w.t, w.operator), {
        transaction_id: pay.txnId,
        amount: 100,
        reason: "requested_by_customer",
        note: "during the outage",
      }),
    );
    assert.equal(res.status, 202);
    const scrape = async () => {
      const r = await w.t.app.request("/metrics", { headers: authHeaders(w.admin) });
      assert.equal(r.status, 200);
      return parsePrometheus(await r.text());
    };
    const during = await scrape();
    const kind = { kind: "refund.reconcile" };
    assert.equal(sampleValue(during, "payops_jobs_waiting", kind), 1);
    assert.equal(
      sampleValue(during, "payops_refunds_reconciliation_backlog", { status: "processing" }),
      1,
    );
    w.clock.advance(61_000);
    await w.runJobs();
    const after = await scrape();
    assert.equal(sampleValue(after, "payops_jobs_waiting", kind), 0);
    assert.equal(sampleValue(after, "payops_jobs_overdue", kind), 0);
    assert.equal(
      sampleValue(after, "payops_refunds_reconciliation_backlog", { status: "processing" }),
      0,
    );
  });
});

Deno.test("a dispute submission sent into a two-day outage is settled after its job ran out of attempts", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada Lovelace",
      product_description: "Concert ticket",
    });
    await w.deliver();
    const path = `/v1/disputes/${dispute.stripe_dispute}`;
    w.emu.faults.inject({ kind: "server_error", method: "POST", path, times: Infinity });
    const sent = await submitAs(w, w.operator, dispute.id);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    // Stripe fails every send for two days: the job table's attempts run out
    for (let h = 0; h < 48; h++) {
      w.clock.advance(3_600_000);
      await runDisputeJobs(w);
    }
    w.emu.faults.clear();
    for (const task of ["run-jobs", "reconcile-refunds", "dispute-reminders"] as const) {
      await runPeriodicTask(w.t.services, task);
    }
    w.clock.advance(3_600_000);
    await runDisputeJobs(w);
    await runPeriodicTask(w.t.services, "reconcile-refunds");
    // Stripe never took it (every send failed): closed, the round freed, the operator told
    const after = await w.t.services.disputes.get(dispute.id);
    assert.equal(after.submission!.state, "failed", JSON.stringify(after.submission));
    assert.match(String(after.submission!.failure), /submit again/);
    const again = await submitAs(w, w.operator, dispute.id);
    assert.ok(again.status < 300, JSON.stringify(again.body));
    assert.equal((await w.t.services.disputes.get(dispute.id)).submission_count, 1);
  });
});

Deno.test("an accept with an unknown outcome meets a 429 on reconciliation's send: still processing, then closed once", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await w.deliver();
    const path = `/v1/disputes/${dispute.stripe_dispute}/close`;
    // a 500: Stripe may or may not have closed it
    w.emu.faults.inject({ kind: "server_error", method: "POST", path });
    const sent = await call(w, w.operator, "POST", `/disputes/${dispute.id}/accept`, {
      note: "fraud confirmed",
    }, true);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    w.emu.faults.inject({ kind: "rate_limit", method: "POST", path, times: 3 });
    w.clock.advance(61_000);
    await runDisputeJobs(w);
    const waiting = await w.t.services.disputes.get(dispute.id);
    assert.equal(
      waiting.closing?.state,
      "processing",
      `a 429 proves nothing about the first send: ${JSON.stringify(waiting.closing)}`,
    );
    w.clock.advance(120_000);
    await runDisputeJobs(w);
    const closed = await w.t.services.disputes.get(dispute.id);
    assert.equal(closed.closing?.state, "closed");
    assert.equal(closed.status, "lost");
    const actions = (await auditEntries(w.t.kv)).map((e) => e.action);
    assert.ok(!actions.includes("dispute.accept_failed"), actions.join(", "));
  });
});
