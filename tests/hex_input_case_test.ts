/**
 * Hashes a client sends back (README, "Audit checkpoints" and "Two-person rules") are hex in
 * either case: an auditor's kept checkpoint copied in capitals (`expect_hash`) and a refund's
 * `approval_hash` in capitals are the same hash as the lowercase one the service shows; a
 * different hash in capitals is still a different hash.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { keys } from "../kv/keys.ts";

Deno.test("verify takes a kept checkpoint's expect_hash in capitals", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    await addRefundEntries(t, 5);
    const head = (await t.kv.get<{ seq: number; hash: string }>(keys.auditHead())).value!;
    const ask = (hash: string) =>
      t.app.request(
        `/api/admin/payments/audit-log/verify?expect_seq=${head.seq}&expect_hash=${hash}`,
        { headers: authHeaders(auditor) },
      );
    const upper = await ask(head.hash.toUpperCase());
    const body = await upper.json();
    assert.equal(upper.status, 200, JSON.stringify(body));
    assert.equal(body.ok, true, JSON.stringify(body));
    const mixed = head.hash.slice(0, 32).toUpperCase() + head.hash.slice(32);
    assert.equal((await (await ask(mixed)).json()).ok, true);

    const other = (head.hash.startsWith("0") ? "1" : "0") + head.hash.slice(1);
    const wrong = await (await ask(other.toUpperCase())).json();
    assert.equal(wrong.ok, false);
    assert.equal(wrong.first_bad.problem, "hash_mismatch");

    const bad = await ask("G".repeat(64));
    assert.equal(bad.status, 422);
    assert.match(
      (await bad.json()).detail,
      /query\.expect_hash: expect_hash must be 64 hex digits/,
    );
  });
});

Deno.test("a refund is approved by its approval_hash in capitals, on its route and in the queue", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const ask = async () => {
      const res = await w.t.app.request(
        "/api/admin/payments/refunds",
        jsonRequest("POST", otpHeaders(w.t, w.operator), {
          transaction_id: pay.txnId,
          amount: 6000,
          reason: "requested_by_customer",
          note: "RMA-9 returned",
          confirm_duplicate: true,
        }),
      );
      const body = await res.json();
      assert.equal(res.status, 202, JSON.stringify(body));
      return body as { id: string; approval: { hash: string } };
    };
    const a = await ask();
    const own = await w.t.app.request(
      `/api/admin/payments/refunds/${a.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {
        approval_hash: a.approval.hash.toUpperCase(),
      }),
    );
    assert.equal(own.status, 200, await own.text());

    const b = await ask();
    w.t.clock.advance(30_000); // a fresh code
    const queued = await w.t.app.request(
      `/api/admin/approvals/${b.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), {
        approval_hash: b.approval.hash.toUpperCase(),
      }),
    );
    assert.equal(queued.status, 200, await queued.text());
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000" } });
});
