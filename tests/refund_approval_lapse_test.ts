/**
 * A refund awaiting approval past its `expires_at` is expired from that moment,
 * whether or not the expiry job has run yet (README, "Two-person rules": it
 * reads and lists as expired and can be neither approved nor rejected); the
 * decision attempt that finds it so releases its reservation.
 */
import assert from "node:assert/strict";
import { askRefund, statusOf, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { auditEntries, authHeaders, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import type { RefundWorld } from "./helpers/refunds.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };
const DAY = 24 * 3600_000;
const P = "/api/admin/payments";

/** A refund awaiting approval, its deadline just passed and no job run since. */
async function lapsed(w: RefundWorld) {
  const pay = await w.pay(8000);
  const asked = await askRefund(w, pay.txnId, 6000, "goodwill");
  assert.equal(statusOf(asked), 202);
  w.clock.advance(DAY + 1000);
  return { pay, id: asked.refund.id, hash: asked.refund.approval.hash! };
}

async function get(w: RefundWorld, path: string) {
  const res = await w.t.app.request(path, { headers: authHeaders(w.operator2) });
  assert.equal(res.status, 200, path);
  return await res.json();
}

Deno.test("past expires_at a refund reads and lists as expired before the expiry job runs", async () => {
  await withRefundWorld(async (w) => {
    const { id } = await lapsed(w);
    assert.equal((await get(w, `${P}/refunds/${id}`)).status, "expired");
    const ids = (page: { data: { id: string }[] }) => page.data.map((r) => r.id);
    assert.ok(!ids(await get(w, `${P}/refunds?status=awaiting_approval`)).includes(id));
    const expired = await get(w, `${P}/refunds?status=expired`);
    assert.deepEqual(ids(expired), [id]);
    assert.equal(expired.data[0].status, "expired");
    assert.equal((await get(w, `${P}/refunds`)).data[0].status, "expired");

    assert.ok(!ids(await get(w, "/api/admin/approvals?status=pending")).includes(id));
    const queue = await get(w, "/api/admin/approvals?status=expired");
    assert.deepEqual(ids(queue), [id]);
    assert.equal(queue.data[0].status, "expired");
  }, { env: ENV });
});

for (const decision of ["approve", "reject"] as const) {
  Deno.test(`${decision} past expires_at is 409 expired, and the attempt ends the refund and releases its reservation`, async () => {
    await withRefundWorld(async (w) => {
      const { pay, id, hash } = await lapsed(w);
      assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 6000);
      const res = await w.t.app.request(
        `${P}/refunds/${id}/${decision}`,
        jsonRequest(
          "POST",
          otpHeaders(w.t, w.operator2),
          decision === "approve" ? { approval_hash: hash } : { note: "too late" },
        ),
      );
      const problem = await res.json();
      assert.equal(res.status, 409, JSON.stringify(problem));
      assert.equal(problem.code, "conflict");
      assert.equal(problem.refund_status, "expired");
      assert.match(problem.detail, /expired at .* reservation (is )?released/);
      assert.doesNotMatch(problem.detail, /being released/);
      // ended in the store, not only in the answer
      const stored = await w.t.services.refunds.get(id);
      assert.equal(stored.status, "expired");
      assert.equal(stored.rejected_by, null);
      assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
      assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
      const ended = (await auditEntries(w.t.kv)).filter((e) =>
        e.target?.id === id && e.action === "refund.expire"
      );
      assert.equal(ended.length, 1);
      // the job finds nothing left to do
      await w.runJobs();
      assert.equal((await w.t.services.refunds.get(id)).status, "expired");
    }, { env: ENV });
  });
}

Deno.test("through the approvals queue a lapsed refund is refused as expired too", async () => {
  await withRefundWorld(async (w) => {
    const { pay, id } = await lapsed(w);
    const res = await w.t.app.request(
      `/api/admin/approvals/${id}/reject`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), { note: "too late" }),
    );
    assert.equal(res.status, 409);
    assert.equal((await res.json()).refund_status, "expired");
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
  }, { env: ENV });
});
