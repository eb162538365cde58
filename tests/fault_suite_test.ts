/**
 * The fault suite (README "Testing": fault suite): refunds, retries and
 * dispute submissions under every fault the emulator injects (latency past
 * the client timeout, 5xx, 429, `lock_timeout`, act-then-drop-answer) and the
 * process dying between the two commits, at every step (the call that moves
 * money, the calls before it, the reads that settle it), interleaved with
 * duplicated, reordered, late and lost webhooks and reconciliation runs.
 * After quiescence: no double move and no lost move at Stripe, and every
 * transaction and customer ledger equals the emulator to the cent.
 *
 * `deno task test` runs the matrix (each fault at each step once) and a few
 * random seeds; `deno task test:long` runs many (FAULT_SEEDS).
 */
import assert from "node:assert/strict";
import { listTransactionRefunds } from "../kv/refunds.ts";
import { getRetryState, listTransactionRetries } from "../kv/retries.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { call, disputedPayment, runDisputeJobs } from "./helpers/disputes.ts";
import {
  assertMoneyMatchesStripe,
  Chaos,
  deathGateway,
  FAULTS,
  ProcessDeath,
  seeds,
  TIMEOUT_MS,
  withSeed,
} from "./helpers/faults.ts";
import {
  latePlan,
  matrixPlan,
  play,
  quiesce,
  randomPlan,
  type Scenario,
  tolerate,
} from "./helpers/fault_plays.ts";

const refunds: Scenario = {
  targets: {
    create: { method: "POST", path: /^\/v1\/refunds$/ },
    read: { method: "GET", path: /^\/v1\/(refunds|charges|payment_intents)/ },
  },
  run(seed, plan) {
    return withRefundWorld((w) =>
      withSeed("refunds", seed, async (r, trace) => {
        const pay = await w.pay(6000);
        const arm = () => {
          w.hooks.afterStripeCall = () => {
            w.hooks.afterStripeCall = undefined;
            throw new ProcessDeath();
          };
        };
        const chaos = new Chaos(w, r, arm);
        const svc = w.t.services.refunds;
        const move = () =>
          tolerate(svc.create(w.ctx(r.pick([w.operator, w.operator2])), {
            transaction_id: pay.txnId,
            amount: 1 + r.int(2500),
            reason: "requested_by_customer",
            note: "fault suite",
            confirm_duplicate: true,
          }));
        const reconcile = async () => {
          await w.runJobs();
          await svc.reconcile({ olderThanMs: 0 });
        };
        const steps = plan(r, Object.keys(this.targets));
        await play(w, chaos, steps, trace, this.targets, move, reconcile);
        await quiesce(w, chaos, () => (w.hooks.afterStripeCall = undefined), reconcile);

        const atStripe = (await w.stripe.refunds.list({ payment_intent: pay.pi.id, limit: 100 }))
          .data;
        const records = await listTransactionRefunds(w.t.kv, pay.txnId);
        const ids = atStripe.map((x) => x.metadata?.refund_id);
        assert.equal(new Set(ids).size, ids.length, `no refund twice at Stripe: ${ids}`);
        for (const x of atStripe) {
          const rec = records.find((l) => l.id === x.metadata?.refund_id);
          assert.ok(rec, `Stripe's ${x.id} is recorded here`);
          assert.equal(rec.stripe_refund, x.id);
          assert.equal(rec.amount, x.amount);
        }
        for (const rec of records) {
          assert.notEqual(rec.status, "processing", `${rec.id} settled`);
          const sent = atStripe.some((x) => x.metadata?.refund_id === rec.id);
          assert.equal(rec.stripe_refund !== null, sent, `${rec.id} (${rec.status}) vs Stripe`);
        }
        await assertMoneyMatchesStripe(w, pay.pi.id, pay.customer, pay.txnId);
      }), { timeoutMs: TIMEOUT_MS });
  },
};

/** Declines more often than not, so a payment sees several attempts before one succeeds. */
const PMS = [
  "pm_card_visa",
  "pm_card_mastercard",
  "pm_card_chargeDeclinedInsufficientFunds",
  "pm_card_chargeDeclinedInsufficientFunds",
  "pm_card_chargeDeclined",
];

const retries: Scenario = {
  targets: {
    confirm: { method: "POST", path: /^\/v1\/payment_intents\/[^/]+\/confirm$/ },
    attach: { method: "POST", path: /^\/v1\/payment_methods/ },
    read: { method: "GET", path: /^\/v1\/(payment_intents|charges|payment_methods|customers)/ },
  },
  run(seed, plan) {
    return withRetryWorld((w: RetryWorld) =>
      withSeed("retries", seed, async (r, trace) => {
        const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
        const hooks = w.t.services.retries.hooks;
        const arm = () => {
          hooks.afterStripeCall = () => {
            hooks.afterStripeCall = undefined;
            throw new ProcessDeath();
          };
        };
        const chaos = new Chaos(w, r, arm);
        const move = async () => {
          const res = await w.retry({ transaction_id: f.txnId, payment_method: r.pick(PMS) });
          assert.notEqual(res.status, 500, JSON.stringify(res.body));
          return String(res.status);
        };
        const reconcile = () => w.runAllJobs();
        // one step-up token for both clicks of a double click (a code is used once)
        const stepUp = () => w.stepUp();
        const steps = plan(r, Object.keys(this.targets));
        await play(w, chaos, steps, trace, this.targets, move, reconcile, stepUp);
        await quiesce(w, chaos, () => (hooks.afterStripeCall = undefined), reconcile);

        const list = await w.get(`${RETRIES}?transaction_id=${f.txnId}&limit=100`);
        const records = list.body.data as { id: string; status: string; stripe_charge: string }[];
        const charges = await w.charges(f.pi.id);
        const succeeded = charges.filter((c) => c.status === "succeeded");
        assert.ok(succeeded.length <= 1, `charged ${succeeded.length} times`);
        assert.ok(records.every((x) => x.status !== "processing"), "every retry settled");
        const known = records.map((x) => x.stripe_charge).filter((c) => c);
        assert.equal(new Set(known).size, known.length, "one charge per retry");
        const first = f.pi.latest_charge as string;
        for (const c of charges.filter((c) => c.id !== first)) {
          assert.ok(known.includes(c.id), `Stripe's charge ${c.id} is recorded by a retry`);
        }
        // only attempts that reached the card (or might have) count toward the caps
        const kept = await listTransactionRetries(w.t.kv, f.txnId);
        const counted = kept.filter((x) => x.counted !== false);
        const state = (await getRetryState(w.t.kv, f.txnId)).value;
        assert.equal(state?.attempts ?? 0, counted.length, "the payment's count");
        for (const x of kept.filter((x) => x.counted === false)) {
          assert.ok(!charges.some((c) => c.id === x.stripe_charge), `${x.id} charged nothing`);
        }
        for (const c of charges.filter((c) => c.id !== first)) {
          assert.ok(counted.some((x) => x.stripe_charge === c.id), `${c.id} counted`);
        }
        const pi = await w.stripe.paymentIntents.retrieve(f.pi.id);
        const won = records.filter((x) => x.status === "succeeded");
        assert.equal(won.length, pi.status === "succeeded" ? 1 : 0, "success recorded once");
        const txn = await w.t.services.transactions.get(f.txnId);
        assert.equal(txn.status === "succeeded", pi.status === "succeeded");
        await assertMoneyMatchesStripe(w, f.pi.id, f.customer, f.txnId);
      }), { timeoutMs: TIMEOUT_MS });
  },
};

const EVIDENCE = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };

const disputes: Scenario = {
  targets: {
    submit: { method: "POST", path: /^\/v1\/disputes\/du_/ },
    read: { method: "GET", path: /^\/v1\/disputes/ },
  },
  run(seed, plan) {
    const death = deathGateway(/^disputes\.update\(submit=true\)$/);
    return withRefundWorld((w) =>
      withSeed("disputes", seed, async (r, trace) => {
        const { dispute, pi, customer, txnId } = await disputedPayment(w);
        const chaos = new Chaos(w, r, () => (death.state.armed = true));
        const admins = [w.operator, w.operator2, w.admin];
        const move = async () => {
          const path = `/disputes/${dispute.id}`;
          if (r.chance(0.3)) {
            const res = await call(w, w.operator, "PUT", `${path}/evidence`, EVIDENCE);
            assert.notEqual(res.status, 500, JSON.stringify(res.body));
            return `draft ${res.status}`;
          }
          w.clock.advance(31_000); // a fresh TOTP period for the next code
          const res = await call(w, r.pick(admins), "POST", `${path}/submit`, undefined, true);
          assert.notEqual(res.status, 500, JSON.stringify(res.body));
          return `submit ${res.status}`;
        };
        const reconcile = () => runDisputeJobs(w);
        await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
        const steps = plan(r, Object.keys(this.targets));
        await play(w, chaos, steps, trace, this.targets, move, reconcile);
        await quiesce(w, chaos, () => (death.state.armed = false), reconcile);

        const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
        const count = atStripe.evidence_details.submission_count;
        assert.ok(count <= 1, `submitted ${count} times`);
        const local = await w.t.services.disputes.get(dispute.id);
        assert.equal(local.submission_count, count, "submissions here == Stripe");
        assert.notEqual(local.submission?.state, "processing", "the submission settled");
        assert.equal(local.submission?.state === "submitted", count === 1);
        assert.equal(local.status, atStripe.status);
        await assertMoneyMatchesStripe(w, pi.id, customer, txnId);
      }), { timeoutMs: TIMEOUT_MS, intercept: death.intercept });
  },
};

Deno.test("fault suite: retries, held answers land after the reconcile point", async () => {
  if (Deno.env.get("FAULT_SEED")) return;
  for (const fault of ["latency", "server_error", "rate_limit", "act_then_drop"] as const) {
    await retries.run(1, latePlan(fault, "confirm"));
  }
  await retries.run(2, latePlan("latency", "read"));
});

const SCENARIOS = { refunds, retries, disputes };
const SHORT_SEEDS = Number(Deno.env.get("FAULT_SEEDS_SHORT") ?? 8);

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
