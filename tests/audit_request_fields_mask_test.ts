/**
 * An audit entry's `user_agent` and `idempotency_key` come from the client's
 * headers: card numbers, bearer tokens and this service's own tokens in them
 * are masked before the entry is written, as in its snapshots and reason, so
 * the JSON Lines and CSV exports carry them masked too (README "Security").
 * A key that holds no secret is kept as the client sent it.
 */
import assert from "node:assert/strict";
import { jsonRequest, otpHeaders, stepUpHeaders } from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { pendingEntry } from "../services/audit/entry.ts";

const TOKEN = "pot_Zq8vKx3nR7tLm2Wc9yHa";
const CARD = "4000056655665556";

Deno.test("POST /refunds: a card number and a token in User-Agent and Idempotency-Key are masked in refund.create, refund.settle and both exports", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const headers = {
      ...await stepUpHeaders(w.t, w.operator),
      "user-agent": `ua ${CARD} ${TOKEN} Bearer ${TOKEN}x`,
      "idempotency-key": `key-${TOKEN}`,
    };
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", headers, {
        transaction_id: pay.txnId,
        amount: 1000,
        reason: "duplicate",
        note: "n",
      }),
    );
    assert.equal(res.status, 201, await res.clone().text());
    const refundId = (await res.json()).id;
    const entries = (await w.t.services.audit.list({ limit: 50, target: refundId })).data;
    const actions = entries.map((e) => e.action);
    assert.ok(actions.includes("refund.create"), actions.join());
    assert.ok(actions.includes("refund.settle"), actions.join());
    for (const e of entries.filter((e) => e.actor.id === w.operator.id)) {
      assert.equal(e.user_agent, "ua ****5556 pot_**** Bearer ****", e.action);
      assert.equal(e.idempotency_key, "key-pot_****", e.action);
    }

    const admin = w.admin;
    for (const format of ["jsonl", "csv"]) {
      const exp = await w.t.app.request(
        `/api/admin/payments/audit-log/export?format=${format}`,
        { headers: otpHeaders(w.t, admin) },
      );
      assert.equal(exp.status, 200);
      const text = await exp.text();
      assert.ok(text.includes("key-pot_****"), format);
      assert.ok(!text.includes(TOKEN), `${format} holds the token`);
      assert.ok(!text.includes(CARD), `${format} holds the card number`);
    }
  });
});

Deno.test("an entry's user_agent and idempotency_key: a key with no secret kept as sent; masked before the length cap", () => {
  const ctx = (userAgent: string, key?: string) => ({
    actor: { type: "admin" as const, id: "adm_x", role: "admin" },
    request: { request_id: "req_1", ip: null, user_agent: userAgent },
    second_factor: true,
    ...(key === undefined ? {} : { idempotency_key: key }),
  });
  const plain = pendingEntry(ctx("curl/8.5.0", "order-42_refund-2026"), {
    action: "a.b",
    target: null,
    result: "ok",
  });
  assert.equal(plain.user_agent, "curl/8.5.0");
  assert.equal(plain.idempotency_key, "order-42_refund-2026");
  // a token across the 256-character cap is masked whole, not cut first to a tail too short to
  // be recognized (pot_ and 7 characters) and left clear
  const long = pendingEntry(ctx("x".repeat(244) + " " + TOKEN, "k".repeat(244) + "-" + TOKEN), {
    action: "a.b",
    target: null,
    result: "ok",
  });
  assert.equal(long.user_agent, "x".repeat(244) + " pot_****");
  assert.equal(long.idempotency_key, "k".repeat(244) + "-pot_****");
});

Deno.test("a token across character 256 of the User-Agent header is masked whole in the entry (the request's header is not cut before the audit layer masks it)", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", {
        ...await stepUpHeaders(w.t, w.operator),
        "user-agent": "x".repeat(244) + " " + TOKEN,
      }, { transaction_id: pay.txnId, amount: 1000, reason: "duplicate", note: "n" }),
    );
    assert.equal(res.status, 201, await res.clone().text());
    const refundId = (await res.json()).id;
    const entries = (await w.t.services.audit.list({ limit: 50, target: refundId })).data;
    const mine = entries.filter((e) => e.actor.id === w.operator.id);
    assert.ok(mine.length >= 1);
    for (const e of mine) assert.equal(e.user_agent, "x".repeat(244) + " pot_****", e.action);
  });
});
