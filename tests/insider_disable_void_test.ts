/**
 * Disabling an account voids what it started (README, "Accounts and
 * enrollment"), even when it is re-enabled later: a request (`apr_…` or a
 * refund awaiting approval) is void once its requester was disabled at any
 * time after it was made. The disable itself ends the account's refunds
 * awaiting approval (reservation released); an approval attempt that finds
 * one void ends it too.
 */
import assert from "node:assert/strict";
import { keys } from "../kv/keys.ts";
import type { AdminRecord } from "../domain/admin.ts";
import { systemContext } from "../domain/actor.ts";
import { approvalOf, askRefund, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  createAdmin,
  jsonRequest,
  otpHeaders,
  patchUser,
} from "./helpers/identity.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "50000" };

/** Disabled straight in KV, as a disable whose follow-up never ran would leave it. */
async function disableQuietly(kv: Deno.Kv, id: string, at: number): Promise<void> {
  const entry = await kv.get<AdminRecord>(keys.admin(id));
  await kv.set(keys.admin(id), {
    ...entry.value!,
    status: "disabled",
    disabled_at: new Date(at).toISOString(),
  });
}

Deno.test("attack: disabling an operator ends its refund awaiting approval and releases the reservation", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId } = await w.pay(90_000);
    const asked = await askRefund(w, txnId, 70_000, "big one");
    assert.equal(asked.refund.status, "awaiting_approval");
    const res = await patchUser(w.t, w.admin, w.operator.id, { status: "disabled" });
    assert.equal(res.status, 200, await res.text());
    const refund = await w.t.services.refunds.get(asked.refund.id);
    assert.equal(refund.status, "expired");
    assert.match(refund.history.at(-1)?.note ?? "", new RegExp(`${w.operator.id}.*disabled`));
    assert.equal((await w.t.services.transactions.get(txnId)).amount_reserved, 0);
    const pending = await w.t.services.approvals.list({ status: "pending", limit: 50 });
    assert.equal(pending.data.some((r) => r.id === asked.refund.id), false);
    assert.equal((await stripeRefunds(w.stripe, pi)).refunds.length, 0);
  }, { env: ENV });
});

Deno.test("attack: a refund whose requester was disabled and re-enabled since is void at approval: expired, released, nothing sent", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId } = await w.pay(90_000);
    const asked = await askRefund(w, txnId, 70_000, "big one");
    w.clock.advance(1000);
    // the disable's follow-up never reached the refund; the CLI re-enables the operator
    await disableQuietly(w.t.kv, w.operator.id, w.clock.now());
    w.clock.advance(1000);
    await w.t.services.identity.updateAdmin(systemContext("cli"), w.operator.id, {
      status: "active",
    });
    const res = await w.t.app.request(
      `/api/admin/payments/refunds/${asked.refund.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), await approvalOf(w.t, asked.refund.id)),
    );
    assert.equal(res.status, 409);
    const problem = await res.json();
    assert.match(problem.detail, new RegExp(`${w.operator.id} was disabled`));
    assert.equal(problem.refund_status, "expired");
    const refund = await w.t.services.refunds.get(asked.refund.id);
    assert.equal(refund.status, "expired");
    assert.equal((await w.t.services.transactions.get(txnId)).amount_reserved, 0);
    assert.equal((await stripeRefunds(w.stripe, pi)).refunds.length, 0);
    const audit = await auditEntries(w.t.kv);
    assert.ok(audit.some((e) => e.action === "refund.approve" && e.result === "denied"));
    assert.ok(audit.some((e) => e.action === "refund.expire" && e.target?.id === asked.refund.id));
  }, { env: ENV });
});

Deno.test("a refund asked for after the requester was re-enabled is not void", async () => {
  await withRefundWorld(async (w) => {
    const { txnId } = await w.pay(90_000);
    await disableQuietly(w.t.kv, w.operator.id, w.clock.now());
    w.clock.advance(1000);
    await w.t.services.identity.updateAdmin(systemContext("cli"), w.operator.id, {
      status: "active",
    });
    // the CLI's re-enable hands over new credentials; the operator acts with them
    const entry = await w.t.kv.get<AdminRecord>(keys.admin(w.operator.id));
    assert.equal(entry.value?.status, "active");
    w.clock.advance(1000);
    const asked = await askRefund(w, txnId, 70_000, "after");
    const approved = await w.t.services.refunds.approve(w.ctx(w.operator2), asked.refund.id, {
      approval_hash: asked.refund.approval.hash!,
    });
    assert.equal(approved.refund.status, "succeeded");
  }, { env: ENV });
});

Deno.test("attack: a pending request whose requester was disabled and re-enabled since is void at approval", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const asked = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", otpHeaders(t, a), { email: "sleeper@example.com", role: "operator" }),
    );
    assert.equal(asked.status, 202);
    const { approval } = await asked.json();
    t.clock.advance(1000);
    await disableQuietly(t.kv, a.id, t.clock.now());
    t.clock.advance(1000);
    await t.services.identity.updateAdmin(systemContext("cli"), a.id, { status: "active" });
    const res = await t.app.request(
      `/api/admin/approvals/${approval.id}/approve`,
      jsonRequest("POST", otpHeaders(t, b), { approval_hash: approval.approval_hash }),
    );
    assert.equal(res.status, 409);
    assert.match((await res.json()).detail, new RegExp(`${a.id} was disabled`));
    assert.equal((await t.services.approvals.get(approval.id)).status, "expired");
    assert.equal(
      (await t.services.identity.allAdmins()).some((x) => x.email.startsWith("sleeper")),
      false,
    );
  });
});
