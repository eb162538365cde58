/**
 * The fault suite (README "Testing": fault suite) for the other actions that
 * move money or change Stripe's state: capturing an authorization (in full or
 * in part), cancelling one, accepting (closing) a dispute, and refunding a
 * fraud alert's payments. Every fault the emulator injects and the process
 * dying between the Stripe call and the second commit, at the call that acts
 * and at the reads that settle it, interleaved with late, reordered and
 * repeated webhooks and reconciliation runs. Once quiet: Stripe acted at most
 * once, what it did is recorded here once (the action, the transaction, the
 * ledger, the audit trail), nothing is left pending, and every answer the
 * operator got says what happened or that it is unknown and where to follow it.
 */
import assert from "node:assert/strict";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { type AuthorizationAction, getAuthorizationAction } from "../kv/authorizations.ts";
import { listAuthorizationActionIds } from "../kv/authorizations.ts";
import { listTransactionRefunds } from "../kv/refunds.ts";
import type { StripeGateway } from "../services/stripe/gateway.ts";
import { authorizeAtStripe, type RefundWorld } from "./helpers/refunds.ts";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { API, disputedPayment, runDisputeJobs } from "./helpers/disputes.ts";
import { jsonRequest, type TestAdmin } from "./helpers/identity.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { systemContext } from "../domain/actor.ts";
import {
  assertMoneyMatchesStripe,
  Chaos,
  deathGateway,
  FAULTS,
  ProcessDeath,
  type Rng,
  seeds,
  TIMEOUT_MS,
  withSeed,
} from "./helpers/faults.ts";
import { matrixPlan, play, quiesce, randomPlan, type Scenario } from "./helpers/fault_plays.ts";

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** Whether the process "died" in the request: then it answered nothing (the 500 is no answer). */
const deaths = { fired: 0 };

/** A route call with a step-up token (and an Idempotency-Key, when given); null if it died. */
async function send(
  w: RetryWorld,
  r: Rng,
  path: string,
  body: unknown,
  key?: string,
  as: TestAdmin = r.pick([w.operator, w.operator2]),
) {
  const headers = { ...await w.stepUp(as), ...(key ? { "idempotency-key": key } : {}) };
  const before = deaths.fired;
  const url = path.startsWith("/api/") ? path : `${API}${path}`;
  const res = await w.t.app.request(url, jsonRequest("POST", headers, body));
  const answer: Answer = { status: res.status, body: await res.json(), headers: res.headers };
  if (answer.status === 500 && deaths.fired > before) return null;
  assert.ok(answer.status < 500 || answer.status === 503, JSON.stringify(answer.body));
  return answer;
}

/** Arms a death that throws from inside the service (the refunds' seam). */
function dieAfter(hooks: { afterStripeCall?: (...args: never[]) => unknown }) {
  return () => {
    hooks.afterStripeCall = () => {
      hooks.afterStripeCall = undefined;
      deaths.fired++;
      throw new ProcessDeath();
    };
  };
}

/** Every admin's step-up token, one after the other, before a double click (a code is used once). */
async function stepUpAll(w: RetryWorld) {
  for (const as of [w.operator, w.operator2, w.admin]) await w.stepUp(as);
}

/** Every audit entry of one action name. */
async function audited(w: RefundWorld, action: string): Promise<AuditEntry[]> {
  return (await w.t.services.audit.list({ action, limit: 100 })).data;
}

/** The fault suite's death at the gateway, counted in `deaths`. */
function dying(label: RegExp) {
  const death = deathGateway(label);
  const intercept = (real: StripeGateway): StripeGateway => {
    const inner = death.intercept(real);
    return {
      call: (fn, options) =>
        inner.call(fn, options).catch((error: unknown) => {
          if (error instanceof ProcessDeath) deaths.fired++;
          throw error;
        }),
    };
  };
  return { state: death.state, intercept };
}

/** A key from a small pool (the same click sent again), or none. */
function someKey(r: Rng, prefix: string): string | undefined {
  return r.chance(0.5) ? `${prefix}-${r.int(2)}` : undefined;
}

const authorizations: Scenario = {
  targets: {
    act: { method: "POST", path: /^\/v1\/payment_intents\/[^/]+\/(capture|cancel)$/ },
    read: { method: "GET", path: /^\/v1\/(payment_intents|charges)/ },
  },
  run(seed, plan) {
    const death = dying(/^payment_intents\.(capture|cancel)$/);
    return withRetryWorld((w) =>
      withSeed("authorizations", seed, async (r, trace) => {
        const { pi, customer } = await authorizeAtStripe(w.stripe, 5000, "hold@example.com");
        await w.deliver();
        const txnId = (await w.t.services.transactions.get(pi.id)).id;
        const partial = 1 + r.int(4999);
        const answers: Answer[] = [];
        const chaos = new Chaos(w, r, () => (death.state.armed = true));
        const move = async () => {
          const kind = r.pick(["full", "partial", "cancel"] as const);
          const a = kind === "cancel"
            ? await send(w, r, `/transactions/${txnId}/cancel`, {
              reason: "requested_by_customer",
              note: "fault suite",
            }, someKey(r, kind))
            : await send(w, r, `/transactions/${txnId}/capture`, {
              ...(kind === "partial" ? { amount_to_capture: partial } : {}),
            }, someKey(r, kind));
          if (a) answers.push(a);
          return `${kind} ${a?.status ?? "died"}`;
        };
        const reconcile = async () => {
          await w.runAllJobs();
          await w.t.services.retries.reconcile();
        };
        const steps = plan(r, Object.keys(this.targets));
        await play(w, chaos, steps, trace, this.targets, move, reconcile, () => stepUpAll(w));
        await quiesce(w, chaos, () => (death.state.armed = false), reconcile);

        const atStripe = await w.stripe.paymentIntents.retrieve(pi.id);
        const actions: AuthorizationAction[] = [];
        for (const status of ["processing", "succeeded", "failed"] as const) {
          for (const id of await listAuthorizationActionIds(w.t.kv, status, 100)) {
            actions.push((await getAuthorizationAction(w.t.kv, id)).value!);
          }
        }
        assert.ok(actions.every((a) => a.status !== "processing"), "every action settled");
        const done = actions.filter((a) => a.status === "succeeded");
        const moved = atStripe.status !== "requires_capture";
        assert.equal(done.length, moved ? 1 : 0, `one action did it (${atStripe.status})`);
        if (atStripe.status === "succeeded") {
          assert.equal(done[0].kind, "capture");
          const charge = (await w.charges(pi.id))[0];
          assert.equal(done[0].amount_to_capture ?? 5000, charge.amount_captured);
        }
        if (atStripe.status === "canceled") assert.equal(done[0].kind, "cancel");
        const settles = [
          ...await audited(w, "authorization.capture.settle"),
          ...await audited(w, "authorization.cancel.settle"),
        ];
        for (const a of actions) {
          const mine = settles.filter((e) =>
            (e.after as { action_id?: string })?.action_id === a.id
          );
          assert.equal(mine.length, 1, `${a.id} settled once in the audit trail`);
          assert.equal(mine[0].result, a.status === "failed" ? "failed" : "ok");
        }
        for (const a of answers) {
          const id = String(a.body.id ?? a.body.action_id ?? "");
          const action = actions.find((x) => x.id === id);
          if (a.status === 201 || a.status === 202) {
            assert.ok(action, `the answer names its action: ${JSON.stringify(a.body)}`);
            assert.match(a.headers.get("location") ?? "", new RegExp(`/authorizations/${id}$`));
            if (a.status === 201) assert.equal(action.status, a.body.status, "201 told the truth");
          } else if (a.status === 503) {
            assert.equal(action?.status, "failed", `a 503 acted on nothing: ${id}`);
            assert.equal(action?.failure_code, "stripe_unavailable");
          } else if (a.status === 409 && action?.status === "failed") {
            assert.ok(!done.some((x) => x.id === id), "a refused action did nothing");
          }
        }
        const txn = await w.t.services.transactions.get(txnId);
        assert.equal(txn.status, atStripe.status, "the transaction follows Stripe");
        assert.equal(txn.amount_capturable, atStripe.amount_capturable);
        await assertMoneyMatchesStripe(w, pi.id, customer, txnId);
      }), { timeoutMs: TIMEOUT_MS, intercept: death.intercept });
  },
};

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
        const pays = [await w.pay(2000), await w.pay(3000)];
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
        const move = async () => {
          const path = `/fraud/alerts/${alertId}/refunds`;
          const a = await send(w, r, path, { note: "card testing ring" }, someKey(r, "fraud"));
          return a ? `refund ${a.status}` : "died";
        };
        const reconcile = async () => {
          await w.runAllJobs();
          await w.t.services.refunds.reconcile({ olderThanMs: 0 });
        };
        const steps = plan(r, Object.keys(this.targets));
        await play(w, chaos, steps, trace, this.targets, move, reconcile, () => stepUpAll(w));
        await quiesce(w, chaos, () => (w.hooks.afterStripeCall = undefined), reconcile);

        const alert = await w.t.services.fraud.getAlert(alertId);
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

const SCENARIOS = {
  authorizations,
  disputeAccepts: disputeAccepts(4200),
  approvedDisputeAccepts: disputeAccepts(60_000),
  alertRefunds,
};
const SHORT_SEEDS = Number(Deno.env.get("FAULT_SEEDS_SHORT") ?? 3);

for (const [name, scenario] of Object.entries(SCENARIOS)) {
  Deno.test(`fault suite: ${name}, every fault at every step`, async () => {
    if (Deno.env.get("FAULT_SEED")) return;
    for (const at of Object.keys(scenario.targets)) {
      for (const fault of FAULTS) {
        if (fault === "death" && at !== Object.keys(scenario.targets)[0]) continue;
        await scenario.run(1, matrixPlan(fault, at));
      }
    }
  });

  Deno.test(`fault suite: ${name}, random seeds`, async () => {
    for (const seed of seeds(SHORT_SEEDS)) await scenario.run(seed, randomPlan);
  });
}
