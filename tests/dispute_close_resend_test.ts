/**
 * An accept's close whose first send has an unknown outcome (held at Stripe
 * past the timeout, or a 5xx): a 429 (`rate_limit`, `lock_timeout`) on
 * reconciliation's send says nothing about the first (README "Dispute
 * workbench", Accepting once: only a refusal by Stripe frees the dispute), so
 * the close stays `processing` and settles `closed` when Stripe closes it.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, runDisputeJobs } from "./helpers/disputes.ts";
import { auditEntries } from "./helpers/identity.ts";

const CASES = [
  { first: "latency", kind: "rate_limit" },
  { first: "server_error", kind: "lock_timeout" },
] as const;

for (const { first, kind } of CASES) {
  Deno.test(`a ${kind} on reconciliation's resend after a ${first} leaves the close processing`, async () => {
    await withRefundWorld(async (w) => {
      const { dispute } = await disputedPayment(w);
      const path = /^\/v1\/disputes\/du_[^/]+\/close$/;
      // a latency holds the first send until the test lets it land (never on a timer)
      const held = w.emu.faults.inject({ kind: first, method: "POST", path, ms: Infinity });
      const sent = await call(w, w.operator, "POST", `/disputes/${dispute.id}/accept`, {
        note: "not worth fighting",
      }, true);
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      // reconciliation's resend, while the first send is still held at Stripe
      w.clock.advance(61_000);
      w.emu.faults.inject({ kind, method: "POST", path, times: 10 });
      await runDisputeJobs(w);
      w.emu.faults.clear();
      assert.equal(held.remaining(), 0);
      await held.release(); // the held close lands
      const mid = await w.t.services.disputes.get(dispute.id);
      assert.equal(mid.closing?.state, "processing", "a 429 proves nothing about the first send");
      await w.deliver();
      w.clock.advance(61_000);
      await runDisputeJobs(w);
      const settled = await w.t.services.disputes.get(dispute.id);
      assert.equal(settled.status, "lost");
      assert.equal(settled.closing?.state, "closed");
      const actions = (await auditEntries(w.t.kv)).map((e) => e.action);
      assert.ok(!actions.includes("dispute.accept_failed"), "no failure recorded");
      assert.equal(actions.filter((a) => a === "dispute.accept_settled").length, 1);
    }, { timeoutMs: 400 });
  });
}
