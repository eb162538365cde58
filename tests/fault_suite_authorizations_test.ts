/**
 * The fault suite (README "Testing": fault suite) for authorizations:
 * capturing one in full or in part, and cancelling one
 * (`POST /transactions/{id}/capture` and `/cancel`), under every fault the
 * emulator injects and the process dying after Stripe's answer, at the call
 * that acts and at the reads that settle it, with double clicks, a capture
 * racing a cancel, late and repeated webhooks and reconciliation runs. Once
 * quiet: Stripe captured or released it at most once, exactly one action
 * says so (its settlement audited once), the transaction and ledger equal
 * Stripe, nothing is left `processing`, and every answer was true: a 201 said
 * what happened, a 202 where to follow it, a 503 that nothing was done.
 */
import assert from "node:assert/strict";
import { type AuthorizationAction, getAuthorizationAction } from "../kv/authorizations.ts";
import { listAuthorizationActionIds } from "../kv/authorizations.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { withRetryWorld } from "./helpers/retries.ts";
import { assertMoneyMatchesStripe, Chaos, TIMEOUT_MS, withSeed } from "./helpers/faults.ts";
import { faultSuite, play, quiesce, type Scenario } from "./helpers/fault_plays.ts";
import { type Answer, audited, dying, send, someKey, stepUpAll } from "./helpers/fault_routes.ts";

type AuthorizationMove = "full" | "partial" | "cancel";

/** Capturing in full, in part, or cancelling an authorization: `kinds` are the clicks played. */
const authorizations = (kinds: readonly AuthorizationMove[]): Scenario => ({
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
          const kind = r.pick(kinds);
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
        const asked = [
          ...await audited(w, "authorization.capture"),
          ...await audited(w, "authorization.cancel"),
        ].filter((e) => e.result === "ok");
        for (const a of actions) {
          const made = asked.filter((e) => (e.after as { action_id?: string })?.action_id === a.id);
          assert.equal(made.length, 1, `${a.id} recorded once in the audit trail`);
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
});

/** The matrix plays each capture or cancel alone; the random seeds mix them. */
faultSuite(
  {
    captureFull: authorizations(["full"]),
    capturePartial: authorizations(["partial"]),
    cancel: authorizations(["cancel"]),
  },
  { authorizations: authorizations(["full", "partial", "cancel"]) },
  Number(Deno.env.get("FAULT_SEEDS_SHORT") ?? 3),
);
