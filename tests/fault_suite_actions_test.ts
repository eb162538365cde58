/**
 * The fault suite (README "Testing": fault suite) for accepting (closing) a
 * dispute, directly or through a second person's approval at the threshold,
 * and for refunding a fraud alert's payments (`POST /fraud/alerts/{id}/refunds`,
 * several payments in one request): every fault the emulator injects and the
 * process dying after Stripe's answer, at the call that acts and at the reads
 * that settle it, interleaved with late, reordered and repeated webhooks and
 * reconciliation runs. Once quiet: Stripe acted at most once, what it did is
 * recorded here once (the dispute, the refunds and the alert listing them,
 * the ledger, the audit trail), nothing is left pending, and every answer the
 * operator got says what happened or that it is unknown.
 */
import assert from "node:assert/strict";
import { listTransactionRefunds } from "../kv/refunds.ts";
import { APPROVAL_TTL_MS } from "../services/refunds/policy.ts";
import { withRetryWorld } from "./helpers/retries.ts";
import { disputedPayment, runDisputeJobs } from "./helpers/disputes.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { systemContext } from "../domain/actor.ts";
import { assertMoneyMatchesStripe, Chaos, TIMEOUT_MS, withSeed } from "./helpers/faults.ts";
import { faultSuite, play, quiesce, type Scenario } from "./helpers/fault_plays.ts";
import {
  type Answer,
  audited,
  dieAfter,
  dying,
  send,
  someKey,
  stepUpAll,
} from "./helpers/fault_routes.ts";

/**
 * Accepting a dispute: below the approval threshold the accept closes it;
 * at or above it the accept is a request that a second person's approval
 * executes (README "Dispute workbench", Accepting once).
 */
function disputeAccepts(amount: number): Scenario {
  return {
    targets: {
      close: { method: "POST", path: /^\/v1\/disputes\/du_[^/]+\/close$/ },
      read: { method: "GET", path: /^\/v1\/disputes/ },
    },
    run(seed, plan) {
      const death = dying(/^disputes\.close$/);
      return withRetryWorld(
        (w) =>
          withSeed(`dispute accepts (${amount})`, seed, async (r, trace) => {
            const { dispute, pi, customer, txnId } = await disputedPayment(w, amount);
            const answers: Answer[] = [];
            const chaos = new Chaos(w, r, () => (death.state.armed = true));
            const move = async () => {
              const q = (await w.t.services.disputes.get(dispute.id)).accept_request;
              if (q?.approval_id && q.status === "pending" && r.chance(0.7)) {
                const approval = await w.t.services.approvals.get(q.approval_id);
                const others = [w.operator, w.operator2, w.admin].filter((a) =>
                  a.id !== q.requested_by
                );
                const path = `/api/admin/approvals/${q.approval_id}/approve`;
                const body = { approval_hash: approval.approval_hash };
                const a = await send(w, r, path, body, undefined, r.pick(others));
                if (a) answers.push(a);
                return `approve ${a?.status ?? "died"}`;
              }
              const path = `/disputes/${dispute.id}/accept`;
              const a = await send(w, r, path, { note: "fault suite" }, someKey(r, "accept"));
              if (a) answers.push(a);
              return `accept ${a?.status ?? "died"}`;
            };
            const reconcile = () => runDisputeJobs(w);
            const steps = plan(r, Object.keys(this.targets));
            await play(w, chaos, steps, trace, this.targets, move, reconcile, () => stepUpAll(w));
            await quiesce(w, chaos, () => (death.state.armed = false), reconcile);

            const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
            const local = await w.t.services.disputes.get(dispute.id);
            assert.equal(local.status, atStripe.status, "the dispute here == Stripe");
            assert.notEqual(local.closing?.state, "processing", "the close settled");
            const closed = atStripe.status === "lost";
            const attempts = local.closing?.attempt ?? 0;
            assert.equal(local.closing?.state === "closed", closed, "closed here == at Stripe");
            const accepts = (await audited(w, "dispute.accept")).filter((e) => e.result === "ok");
            const failed = await audited(w, "dispute.accept_failed");
            const settled = await audited(w, "dispute.accept_settled");
            assert.equal(accepts.length, attempts, "one audited go-ahead per close sent");
            assert.equal(failed.length, attempts - (closed ? 1 : 0), "only refused closes failed");
            assert.ok(settled.length <= (closed ? 1 : 0), "the close settled once");
            for (const a of answers) {
              const d = (a.body.dispute ?? a.body) as { closing?: { state: string } };
              if (a.status === 200 && a.body.id) assert.ok(closed, "a 200 closed it");
              if (a.status === 202 && a.body.approval === null) {
                assert.equal(d.closing?.state, "processing", "a 202 says the close is pending");
              }
              const outcome = a.body.outcome as { closing?: string } | null | undefined;
              if (outcome?.closing === "closed") assert.ok(closed, "an approval said closed");
            }
            await assertMoneyMatchesStripe(w, pi.id, customer, txnId);
          }),
        { timeoutMs: TIMEOUT_MS, intercept: death.intercept },
      );
    },
  };
}

const alertRefunds: Scenario = {
  targets: {
    create: { method: "POST", path: /^\/v1\/refunds$/ },
    read: { method: "GET", path: /^\/v1\/(refunds|charges|payment_intents)/ },
  },
  run(seed, plan) {
    return withRetryWorld((w) =>
      withSeed("alert refunds", seed, async (r, trace) => {
        // the large one waits for a second person, whose approval sends it
        const pays = [await w.pay(2000), await w.pay(3000), await w.pay(60_000)];
        const at = new Date(w.clock.now()).toISOString();
        const raised = await raiseAlerts(
          raiseDeps(w.t),
          systemContext("test"),
          customerTarget("cus_x"),
          pays.map((p) => velocityHit(p.txnId, at)),
          () => ({}),
        );
        const alertId = raised.alerts[0];
        const chaos = new Chaos(w, r, dieAfter(w.hooks));
        const answers: Answer[] = [];
        const move = async () => {
          const waiting = (await listTransactionRefunds(w.t.kv, pays[2].txnId))
            .find((x) => x.status === "awaiting_approval");
          if (waiting && r.chance(0.6)) {
            const admins = [w.operator, w.operator2, w.admin];
            const as = r.pick(admins.filter((a) => a.id !== waiting.requested_by));
            const path = `/refunds/${waiting.id}/approve`;
            const body = { approval_hash: waiting.approval_hash };
            const a = await send(w, r, path, body, someKey(r, "approve"), as);
            return a ? `approve ${a.status}` : "died";
          }
          const path = `/fraud/alerts/${alertId}/refunds`;
          const a = await send(w, r, path, { note: "card testing ring" }, someKey(r, "fraud"));
          if (a) answers.push(a);
          return a ? `refund ${a.status}` : "died";
        };
        const reconcile = async () => {
          await w.runAllJobs();
          await w.t.services.refunds.reconcile({ olderThanMs: 0 });
        };
        const steps = plan(r, Object.keys(this.targets));
        await play(w, chaos, steps, trace, this.targets, move, reconcile, () => stepUpAll(w));
        await quiesce(w, chaos, () => (w.hooks.afterStripeCall = undefined), reconcile);
        // a refund nobody approved lapses and gives its reservation back
        w.clock.advance(APPROVAL_TTL_MS + 60_000);
        await reconcile();

        const alert = await w.t.services.fraud.getAlert(alertId);
        type Result = { status: number; refund?: { id: string; status: string } };
        for (const result of answers.flatMap((a) => (a.body.results ?? []) as Result[])) {
          if (!result.refund) continue;
          const rec = await w.t.services.refunds.get(result.refund.id);
          if (["succeeded", "failed"].includes(result.refund.status)) {
            assert.equal(rec.status, result.refund.status, "a final answer was true");
          }
          assert.ok(alert.refunds.includes(rec.id), `the alert lists ${rec.id}`);
        }
        for (const p of pays) {
          const atStripe = (await w.stripe.refunds.list({ payment_intent: p.pi.id, limit: 100 }))
            .data;
          assert.ok(atStripe.length <= 1, `${p.txnId} refunded ${atStripe.length} times`);
          const records = await listTransactionRefunds(w.t.kv, p.txnId);
          for (const x of atStripe) {
            const rec = records.find((l) => l.id === x.metadata?.refund_id);
            assert.ok(rec, `Stripe's ${x.id} is recorded here`);
            assert.equal(rec.stripe_refund, x.id);
            assert.equal(rec.amount, x.amount);
            assert.equal(rec.fraud_alert_id, alertId);
            assert.ok(alert.refunds.includes(rec.id), `the alert lists ${rec.id}`);
          }
          for (const rec of records) {
            assert.notEqual(rec.status, "processing", `${rec.id} settled`);
            const sent = atStripe.some((x) => x.metadata?.refund_id === rec.id);
            assert.equal(rec.stripe_refund !== null, sent, `${rec.id} (${rec.status}) vs Stripe`);
          }
          await assertMoneyMatchesStripe(w, p.pi.id, p.customer, p.txnId);
        }
      }), { timeoutMs: TIMEOUT_MS });
  },
};

const disputes = disputeAccepts(4200);
const approvedDisputes = disputeAccepts(60_000);
const SUITE = { disputeAccepts: disputes, approvedDisputeAccepts: approvedDisputes, alertRefunds };
faultSuite(SUITE, SUITE, Number(Deno.env.get("FAULT_SEEDS_SHORT") ?? 3));
