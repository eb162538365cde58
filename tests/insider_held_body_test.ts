/**
 * Disabling an admin cuts them off at once (README, "Accounts and
 * enrollment"), including requests they opened before and hold open by
 * sending the body slowly: the guard checked the token when the headers came,
 * so a request whose body arrives after the disable must be judged again
 * before it acts. Otherwise a compromised admin keeps a handful of requests
 * open (a refund under the threshold, an approval) and lets them land after
 * being disabled.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { askRefund } from "./helpers/refunds.ts";
import { authHeaders, otpHeaders, patchUser, type TestAdmin } from "./helpers/identity.ts";
import type { TestApp } from "./helpers/app.ts";

/**
 * Sends `body` to `path` as `who` with a fresh code, holding the last byte back
 * until `meanwhile` has run: the headers (and so the token) arrive first.
 */
async function heldOpen(
  t: TestApp,
  who: TestAdmin,
  path: string,
  body: unknown,
  meanwhile: () => Promise<void>,
) {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  let started!: () => void;
  const reading = new Promise<void>((r) => started = r);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      controller.enqueue(bytes.subarray(0, bytes.length - 1));
      started();
      await released;
      controller.enqueue(bytes.subarray(bytes.length - 1));
      controller.close();
    },
  });
  const headers = {
    ...otpHeaders(t as Required<TestApp>, who),
    "content-type": "application/json",
  };
  const answer = t.app.request(
    new Request(`http://localhost${path}`, { method: "POST", headers, body: stream }),
  );
  await reading;
  await meanwhile();
  release();
  const res = await answer;
  return { status: res.status, body: await res.json() };
}

/** The refunds recorded on a transaction (ids). */
async function refundsOf(t: TestApp, txnId: string): Promise<string[]> {
  const page = await t.services.refunds.list({ transaction_id: txnId, limit: 100 });
  return page.data.map((r) => r.id);
}

Deno.test("attack: a refund held open by a slow body is refused once its operator is disabled meanwhile", async () => {
  await withRefundWorld(async (w) => {
    const { txnId } = await w.pay(5000);
    const res = await heldOpen(w.t, w.operator, "/api/admin/payments/refunds", {
      transaction_id: txnId,
      amount: 1000,
      reason: "requested_by_customer",
      note: "sent after being cut off",
    }, async () => {
      const off = await patchUser(w.t, w.admin, w.operator.id, { status: "disabled" });
      assert.equal(off.status, 200, await off.text());
    });
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.deepEqual(await refundsOf(w.t, txnId), []);
  });
});

Deno.test("attack: an approval held open by a slow body is refused once its approver is disabled meanwhile", async () => {
  await withRefundWorld(async (w) => {
    const { txnId } = await w.pay(90_000);
    const asked = await askRefund(w, txnId, 60_000, "large");
    assert.equal(asked.refund.status, "awaiting_approval");
    const id = asked.refund.id;
    const res = await heldOpen(w.t, w.operator2, `/api/admin/payments/refunds/${id}/approve`, {
      approval_hash: asked.refund.approval.hash,
    }, async () => {
      const off = await patchUser(w.t, w.admin, w.operator2.id, { status: "disabled" });
      assert.equal(off.status, 200, await off.text());
    });
    assert.equal(res.status, 401, JSON.stringify(res.body));
    const after = await w.t.app.request(
      `/api/admin/payments/refunds/${id}`,
      { headers: authHeaders(w.admin) },
    );
    assert.equal((await after.json()).status, "awaiting_approval");
  });
});

Deno.test("a request held open by a slow body is judged by the role its admin has when it acts", async () => {
  await withRefundWorld(async (w) => {
    const { txnId } = await w.pay(5000);
    const res = await heldOpen(w.t, w.operator, "/api/admin/payments/refunds", {
      transaction_id: txnId,
      amount: 1000,
      reason: "requested_by_customer",
      note: "sent after being demoted",
    }, async () => {
      const down = await patchUser(w.t, w.admin, w.operator.id, { role: "viewer" });
      assert.equal(down.status, 200, await down.text());
    });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.deepEqual(await refundsOf(w.t, txnId), []);
  });
});

Deno.test("isolates: a refund held open on one isolate is refused once another disabled its operator", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const { txnId } = await w.pay(5000);
    // the other isolate has served this operator already (whatever it keeps of the token)
    const me = await other.t.app.request("/api/admin/me", { headers: authHeaders(w.operator) });
    assert.equal(me.status, 200);
    await me.body?.cancel();
    const res = await heldOpen(other.t, w.operator, "/api/admin/payments/refunds", {
      transaction_id: txnId,
      amount: 1000,
      reason: "requested_by_customer",
      note: "sent after being cut off elsewhere",
    }, async () => {
      const off = await patchUser(w.t, w.admin, w.operator.id, { status: "disabled" });
      assert.equal(off.status, 200, await off.text());
    });
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.deepEqual(await refundsOf(w.t, txnId), []);
    const after = await other.t.app.request("/api/admin/me", { headers: authHeaders(w.operator) });
    assert.equal(after.status, 401);
    await after.body?.cancel();
  }, { file: true });
});
