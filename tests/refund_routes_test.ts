/** POST/GET /api/admin/payments/refunds through the app: validation, refusals, listings. */
import assert from "node:assert/strict";
import { isUndecided } from "../domain/refund.ts";
import type Stripe from "stripe";
import { authHeaders, jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { createAdmin } from "./helpers/identity.ts";
import { stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";

const BASE = "/api/admin/payments/refunds";

Deno.test("POST /refunds refunds a payment once and GET /refunds/{id} shows its history", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const headers = await stepUpHeaders(w.t, w.operator);
    const res = await w.t.app.request(
      BASE,
      jsonRequest("POST", headers, {
        transaction_id: pay.txnId,
        amount: 1200,
        reason: "requested_by_customer",
        note: "damaged on arrival",
      }),
    );
    assert.equal(res.status, 201);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const body = await res.json();
    assert.match(body.id, /^rfd_/);
    assert.equal(body.transaction_id, pay.txnId);
    assert.equal(body.amount, 1200);
    assert.equal(body.currency, "usd");
    assert.equal(body.status, "succeeded");
    assert.equal(body.requested_by, w.operator.id);
    assert.equal(body.approved_by, null);
    assert.match(body.stripe_refund, /^re_/);

    const detail = await w.t.app.request(`${BASE}/${body.id}`, {
      headers: authHeaders(w.operator),
    });
    assert.equal(detail.status, 200);
    const shown = await detail.json();
    assert.deepEqual(shown.history.map((h: { status: string }) => h.status), [
      "processing",
      "succeeded",
    ]);
    const byStripeId = await w.t.app.request(`${BASE}/${body.stripe_refund}`, {
      headers: authHeaders(w.operator),
    });
    assert.equal(byStripeId.status, 200);
    assert.equal((await byStripeId.json()).id, body.id);
    const audit = await w.t.services.audit.list({ limit: 10, target: body.id });
    const create = audit.data.find((e) => e.action === "refund.create");
    assert.equal(create?.actor.id, w.operator.id);
    assert.equal(create?.stripe_idempotency_key, `refund:${body.id}`);
    assert.ok(audit.data.some((e) => e.action === "refund.settle"));
  });
});

Deno.test("POST /refunds without an amount refunds everything still refundable", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(3300);
    await w.t.services.refunds.create(w.ctx(w.operator2), {
      transaction_id: pay.txnId,
      amount: 1000,
      reason: "duplicate",
      note: "charged twice",
    });
    const res = await w.t.app.request(
      BASE,
      jsonRequest("POST", await stepUpHeaders(w.t, w.operator), {
        transaction_id: pay.txnId,
        reason: "requested_by_customer",
        note: "the rest",
      }),
    );
    assert.equal(res.status, 201);
    assert.equal((await res.json()).amount, 2300);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).amount_refunded, 3300);
  });
});

Deno.test("POST /refunds refuses bad amounts, a foreign currency and a missing note, naming each field", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(2000);
    const headers = await stepUpHeaders(w.t, w.operator);
    const base = { transaction_id: pay.txnId, reason: "requested_by_customer", note: "n" };
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ ...base, amount: 0 }, 422, "validation_failed", "body.amount"],
      [{ ...base, amount: -100 }, 422, "validation_failed", "body.amount"],
      [{ ...base, amount: 12.5 }, 422, "validation_failed", "body.amount"],
      [{ ...base, amount: "100" }, 422, "validation_failed", "body.amount"],
      [{ ...base, amount: 2001 }, 422, "amount_exceeds_refundable", "body.amount"],
      [{ ...base, amount: 100, currency: "eur" }, 422, "validation_failed", "body.currency"],
      [{ ...base, note: "" }, 422, "validation_failed", "body.note"],
      [{ ...base, note: "x".repeat(501) }, 422, "validation_failed", "body.note"],
      [{ ...base, reason: "changed_mind" }, 422, "validation_failed", "body.reason"],
    ];
    for (const [body, status, code, path] of cases) {
      const res = await w.t.app.request(BASE, jsonRequest("POST", headers, body));
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const problem = await res.json();
      assert.equal(problem.code, code, JSON.stringify(body));
      assert.ok(
        problem.errors?.some((e: { path: string }) => e.path === path),
        `${JSON.stringify(body)} names ${path}: ${JSON.stringify(problem.errors)}`,
      );
      if (code === "amount_exceeds_refundable") {
        assert.equal(problem.refundable, 2000);
        assert.match(problem.detail, /2000 \(20.00 USD\) left/);
      }
    }
    // a code Stripe does not charge in is named as such, as in the configuration's currency maps
    const typo = await w.t.app.request(
      BASE,
      jsonRequest("POST", headers, { ...base, amount: 100, currency: "ypj" }),
    );
    assert.equal(typo.status, 422);
    const refused = await typo.json();
    assert.ok(
      refused.errors.some((e: { path: string; message: string }) =>
        e.path === "body.currency" && /"ypj" is not a currency .*did you mean jpy\?/.test(e.message)
      ),
      JSON.stringify(refused.errors),
    );
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
  });
});

Deno.test("POST /refunds: unknown transaction 404, failed payment 409, open dispute 409 saying why", async () => {
  await withRefundWorld(async (w) => {
    const headers = await stepUpHeaders(w.t, w.operator);
    const post = (transaction_id: string) =>
      w.t.app.request(
        BASE,
        jsonRequest("POST", headers, {
          transaction_id,
          amount: 100,
          reason: "requested_by_customer",
          note: "n",
        }),
      );
    const missing = await post("txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R");
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).code, "not_found");

    const declined = await w.stripe.paymentIntents.create({
      amount: 1500,
      currency: "usd",
      payment_method: "pm_card_chargeDeclined",
      confirm: true,
    }).catch((e: Stripe.errors.StripeCardError) => e.payment_intent!);
    await w.deliver();
    const failedTxn = await w.t.services.transactions.get(declined.id);
    assert.equal(failedTxn.status, "failed");
    const failed = await post(failedTxn.id);
    assert.equal(failed.status, 409);
    assert.match((await failed.json()).detail, /is failed; only a succeeded payment/);

    const disputed = await w.pay(2500, "pm_card_createDispute");
    await w.deliver();
    const open = await post(disputed.txnId);
    assert.equal(open.status, 409);
    const problem = await open.json();
    // Stripe says the charge is not refundable while the chargeback is decided
    assert.equal(problem.code, "charge_not_refundable");
    assert.match(problem.detail, /cannot be refunded while dispute/);
    assert.equal((await stripeRefunds(w.stripe, disputed.pi)).refunds.length, 0);
  });
});

Deno.test("POST /refunds needs operator+ and a second factor", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(1000);
    const body = { transaction_id: pay.txnId, amount: 100, reason: "duplicate", note: "n" };
    const noOtp = await w.t.app.request(BASE, jsonRequest("POST", authHeaders(w.operator), body));
    assert.equal(noOtp.status, 401);
    assert.equal((await noOtp.json()).code, "otp_required");
    const viewer = await createAdmin(w.t, "viewer");
    const denied = await w.t.app.request(
      BASE,
      jsonRequest("POST", await stepUpHeaders(w.t, viewer), body),
    );
    assert.equal(denied.status, 403);
    await denied.body?.cancel();
    const list = await w.t.app.request(BASE, { headers: authHeaders(viewer) });
    assert.equal(list.status, 200);
    await list.body?.cancel();
  });
});

Deno.test("POST /refunds: the same request again within 10 minutes is a suspected duplicate unless confirmed", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const headers = await stepUpHeaders(w.t, w.operator);
    const body = {
      transaction_id: pay.txnId,
      amount: 800,
      reason: "duplicate" as const,
      note: "n",
    };
    assert.equal((await w.t.app.request(BASE, jsonRequest("POST", headers, body))).status, 201);
    const again = await w.t.app.request(BASE, jsonRequest("POST", headers, body));
    assert.equal(again.status, 409);
    const problem = await again.json();
    assert.equal(problem.code, "duplicate_suspected");
    assert.match(problem.duplicate_of, /^rfd_/);
    // the field that confirms it is named, with the refund it repeats
    assert.equal(problem.errors[0].path, "body.confirm_duplicate");
    assert.match(problem.errors[0].message, new RegExp(`same as ${problem.duplicate_of}`));
    // another operator, or another amount, is not a duplicate
    const other = await w.t.services.refunds.create(w.ctx(w.operator2), body);
    assert.equal(isUndecided(other.refund.status), false);
    const confirmed = await w.t.app.request(
      BASE,
      jsonRequest("POST", headers, { ...body, confirm_duplicate: true }),
    );
    assert.equal(confirmed.status, 201);
    await confirmed.body?.cancel();
    w.clock.advance(10 * 60_000 + 1);
    const later = await w.t.services.refunds.create(w.ctx(w.operator), body);
    assert.equal(isUndecided(later.refund.status), false);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 4);
  });
});

Deno.test("GET /refunds filters by status, transaction_id and requested_by, with pages", async () => {
  await withRefundWorld(async (w) => {
    const a = await w.pay(5000);
    const b = await w.pay(5000);
    for (
      const [by, txn, amount] of [
        [w.operator, a.txnId, 100],
        [w.operator, a.txnId, 200],
        [w.operator2, a.txnId, 300],
        [w.operator, b.txnId, 400],
      ] as const
    ) {
      await w.t.services.refunds.create(w.ctx(by), {
        transaction_id: txn,
        amount,
        reason: "requested_by_customer",
        note: "n",
      });
    }
    await w.stripe.refunds.create({ payment_intent: b.pi.id, amount: 50 });
    await w.deliver();
    const get = async (query: string) => {
      const res = await w.t.app.request(`${BASE}?${query}`, { headers: authHeaders(w.admin) });
      assert.equal(res.status, 200, query);
      return await res.json() as { data: { amount: number }[]; next_cursor: string | null };
    };
    const amounts = (p: { data: { amount: number }[] }) => p.data.map((r) => r.amount);
    assert.deepEqual(amounts(await get("")), [50, 400, 300, 200, 100]);
    assert.deepEqual(amounts(await get(`transaction_id=${a.txnId}`)), [300, 200, 100]);
    assert.deepEqual(amounts(await get(`requested_by=${w.operator.id}`)), [400, 200, 100]);
    assert.deepEqual(
      amounts(await get(`requested_by=${w.operator.id}&transaction_id=${a.txnId}`)),
      [200, 100],
    );
    assert.deepEqual(amounts(await get("requested_by=stripe_dashboard")), [50]);
    assert.deepEqual(amounts(await get("status=succeeded&limit=2")), [50, 400]);
    const first = await get(`status=succeeded&transaction_id=${a.txnId}&limit=2`);
    assert.deepEqual(amounts(first), [300, 200]);
    assert.ok(first.next_cursor);
    const second = await get(
      `status=succeeded&transaction_id=${a.txnId}&limit=2&cursor=${first.next_cursor}`,
    );
    assert.deepEqual(amounts(second), [100]);
    assert.equal(second.next_cursor, null);
    assert.equal((await get("status=awaiting_approval")).data.length, 0);
    const bad = await w.t.app.request(`${BASE}?status=done`, { headers: authHeaders(w.admin) });
    assert.equal(bad.status, 422);
    await bad.body?.cancel();
    const missing = await w.t.app.request(`${BASE}/rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R`, {
      headers: authHeaders(w.admin),
    });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });
});

Deno.test("POST /refunds/{id}/approve and /reject through the app", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const ask = async (amount: number) => {
      const res = await w.t.app.request(
        BASE,
        jsonRequest("POST", await stepUpHeaders(w.t, w.operator), {
          transaction_id: pay.txnId,
          amount,
          reason: "requested_by_customer",
          note: "big one",
        }),
      );
      assert.equal(res.status, 202);
      return await res.json();
    };
    const first = await ask(6000);
    assert.equal(first.status, "awaiting_approval");
    // what an approver read: the refund's approval.hash (README, "A first session")
    const read = { approval_hash: first.approval.hash };
    const self = await w.t.app.request(
      `${BASE}/${first.id}/approve`,
      jsonRequest("POST", await stepUpHeaders(w.t, w.operator), read),
    );
    assert.equal(self.status, 403);
    assert.equal((await self.json()).code, "self_approval_forbidden");
    const noOtp = await w.t.app.request(
      `${BASE}/${first.id}/approve`,
      jsonRequest("POST", authHeaders(w.admin), read),
    );
    assert.equal(noOtp.status, 401);
    await noOtp.body?.cancel();
    const ok = await w.t.app.request(
      `${BASE}/${first.id}/approve`,
      jsonRequest("POST", await stepUpHeaders(w.t, w.admin), { note: "ok", ...read }),
    );
    assert.equal(ok.status, 200);
    const approved = await ok.json();
    assert.equal(approved.status, "succeeded");
    assert.equal(approved.approved_by, w.admin.id);

    const second = await ask(7000);
    const noNote = await w.t.app.request(
      `${BASE}/${second.id}/reject`,
      jsonRequest("POST", authHeaders(w.operator2), {}),
    );
    assert.equal(noNote.status, 422);
    await noNote.body?.cancel();
    const rejected = await w.t.app.request(
      `${BASE}/${second.id}/reject`,
      jsonRequest("POST", authHeaders(w.operator2), { note: "no receipt" }),
    );
    assert.equal(rejected.status, 200);
    const body = await rejected.json();
    assert.equal(body.status, "rejected");
    assert.equal(body.decision_note, "no receipt");
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_reserved, 0);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).amount_refunded, 6000);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000" } });
});

Deno.test("a card number or token typed into a refund's note is masked before it is stored", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", await stepUpHeaders(w.t, w.operator), {
        transaction_id: pay.txnId,
        amount: 100,
        reason: "requested_by_customer",
        note: "card 4242424242424242, token pot_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
      }),
    );
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.equal(body.note, "card ****4242, token pot_****");
    const stored = await w.t.services.refunds.get(body.id);
    assert.doesNotMatch(JSON.stringify(stored), /4242424242424242|abcdefghijkl/);
  });
});
