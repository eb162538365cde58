/**
 * POST /disputes/{id}/submit sent again (README, "Dispute workbench",
 * Submitting once): the same admin's submit with nothing changed since (a
 * second click, a retry without a key, a burst) answers what the first did
 * (the dispute as submitted, 202 while Stripe's answer is unknown), with
 * nothing written, no denied entry and no second call to Stripe; another
 * admin's submit is 409 naming who submitted it and when.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment, runDisputeJobs, submitAs } from "./helpers/disputes.ts";
import { auditEntries, jsonRequest, otpHeaders, stepUpHeaders } from "./helpers/identity.ts";

const EVIDENCE = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };

const submitEntries = async (kv: Deno.Kv) =>
  (await auditEntries(kv)).filter((e) => e.action === "dispute.submit").map((e) => e.result);

/** Stripe's submission count and how many times the dispute was updated with submit=true. */
async function atStripe(w: Parameters<Parameters<typeof withRefundWorld>[0]>[0], du: string) {
  return (await w.stripe.disputes.retrieve(du)).evidence_details.submission_count;
}

Deno.test("submit sent again by the same admin answers the submitted dispute; nothing written, Stripe called once", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    const first = await submitAs(w, w.operator, dispute.id);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const calls = w.emu.requests.total();
    w.clock.advance(31_000); // a fresh TOTP period: a real second click, minutes later
    const again = await submitAs(w, w.operator, dispute.id);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.phase, "submitted");
    assert.equal(again.body.submission.state, "submitted");
    assert.deepEqual(again.body.submission, first.body.submission);
    assert.deepEqual(again.body.history, first.body.history, "nothing written");
    assert.equal(w.emu.requests.total(), calls, "no second call to Stripe");
    assert.deepEqual(await submitEntries(w.t.kv), ["ok"], "no second entry, no denied one");

    const theirs = await submitAs(w, w.operator2, dispute.id);
    assert.equal(theirs.status, 409);
    assert.equal(theirs.body.code, "conflict");
    const at = first.body.submission.requested_at;
    assert.ok(theirs.body.detail.includes(`by ${w.operator.id} at ${at}`), theirs.body.detail);
    assert.deepEqual(await submitEntries(w.t.kv), ["ok", "denied"]);
    assert.equal(await atStripe(w, dispute.stripe_dispute), 1);
  });
});

Deno.test("a closed dispute is 409 to its submitter too, naming them as you", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    const first = await submitAs(w, w.operator, dispute.id);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    w.emu.resolveDispute(dispute.stripe_dispute, "won");
    await w.deliver();
    w.clock.advance(31_000);
    const late = await submitAs(w, w.operator, dispute.id);
    assert.equal(late.status, 409, JSON.stringify(late.body));
    assert.match(late.body.detail, /closed \(won\)/);
    assert.ok(
      late.body.detail.includes(
        `by you (${w.operator.id}) at ${first.body.submission.requested_at}`,
      ),
      late.body.detail,
    );
  });
});

Deno.test("a burst of one admin's submit sends once; every answer is the submission", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    const headers = await stepUpHeaders(w.t, w.operator);
    const calls = w.emu.requests.total();
    const answers = await Promise.all(
      Array.from(
        { length: 6 },
        () => w.t.app.request(`${API}/disputes/${dispute.id}/submit`, jsonRequest("POST", headers)),
      ),
    );
    const bodies = await Promise.all(answers.map((r) => r.json()));
    for (const [i, r] of answers.entries()) {
      // the submission answered, or still in flight (202 processing)
      assert.ok([200, 202].includes(r.status), JSON.stringify(bodies[i]));
      assert.equal(bodies[i].submission.requested_by, w.operator.id);
      assert.equal(bodies[i].phase, "submitted");
    }
    assert.ok(answers.some((r) => r.status === 200));
    assert.equal(w.emu.requests.total() - calls, 1, "one call to Stripe");
    assert.deepEqual(await submitEntries(w.t.kv), ["ok"]);
    assert.equal(await atStripe(w, dispute.stripe_dispute), 1);
  });
});

Deno.test("a burst of two admins' submits: one submission at Stripe; the other admin told who and when", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    const mine = await stepUpHeaders(w.t, w.operator);
    const theirs = await stepUpHeaders(w.t, w.operator2);
    const calls = w.emu.requests.total();
    const sent = [mine, theirs, mine, theirs, mine, theirs];
    const answers = await Promise.all(
      sent.map((h) =>
        w.t.app.request(`${API}/disputes/${dispute.id}/submit`, jsonRequest("POST", h))
      ),
    );
    const bodies = await Promise.all(answers.map((r) => r.json()));
    const ok = bodies.filter((_, i) => answers[i].status < 300);
    const submitter = ok[0].submission.requested_by;
    for (const [i, r] of answers.entries()) {
      const byWinner = sent[i] === (submitter === w.operator.id ? mine : theirs);
      if (byWinner) {
        assert.ok([200, 202].includes(r.status), JSON.stringify(bodies[i]));
      } else {
        assert.equal(r.status, 409, JSON.stringify(bodies[i]));
        assert.ok(bodies[i].detail.includes(`by ${submitter} at`), bodies[i].detail);
      }
    }
    assert.equal(w.emu.requests.total() - calls, 1, "one call to Stripe");
    assert.deepEqual(await submitEntries(w.t.kv), ["ok", "denied", "denied", "denied"]);
    assert.equal(await atStripe(w, dispute.stripe_dispute), 1);
  });
});

Deno.test("Stripe acts and the answer is lost: the same admin's second click is 202 and sends nothing; settled once", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    await w.deliver();
    w.emu.faults.inject({
      kind: "act_then_drop",
      method: "POST",
      path: `/v1/disputes/${dispute.stripe_dispute}`,
    });
    const sent = await submitAs(w, w.operator, dispute.id);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const calls = w.emu.requests.total();
    w.clock.advance(31_000);
    const again = await submitAs(w, w.operator, dispute.id);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.submission.state, "processing");
    assert.deepEqual(again.body.history, sent.body.history, "nothing written");
    assert.equal(w.emu.requests.total(), calls, "nothing sent");
    await w.dropHeld();
    w.clock.advance(61_000);
    await runDisputeJobs(w);
    const settled = await w.t.services.disputes.get(dispute.id);
    assert.equal(settled.submission!.state, "submitted");
    assert.equal(await atStripe(w, dispute.stripe_dispute), 1);
    w.clock.advance(31_000);
    const later = await submitAs(w, w.operator, dispute.id);
    assert.equal(later.status, 200, JSON.stringify(later.body));
    assert.equal(later.body.submission.state, "submitted");
    assert.deepEqual(await submitEntries(w.t.kv), ["ok"]);
  });
});

Deno.test("Stripe times out and acts afterwards: the second clicks send nothing; settled once by reconciliation", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    await w.deliver();
    const path = `/v1/disputes/${dispute.stripe_dispute}`;
    // Stripe holds the submit past the gateway's timeout, then acts on it
    const held = w.emu.faults.inject({ kind: "latency", method: "POST", path, ms: Infinity });
    const first = await submitAs(w, w.operator, dispute.id);
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.submission.state, "processing");
    w.clock.advance(31_000);
    const mine = await submitAs(w, w.operator, dispute.id);
    assert.equal(mine.status, 202, JSON.stringify(mine.body));
    assert.deepEqual(mine.body.submission, first.body.submission);
    const theirs = await submitAs(w, w.operator2, dispute.id);
    assert.equal(theirs.status, 409, JSON.stringify(theirs.body));
    assert.ok(theirs.body.detail.includes(`by ${w.operator.id} at`), theirs.body.detail);
    await held.release(); // Stripe acts on the first send now
    assert.equal(await atStripe(w, dispute.stripe_dispute), 1);
    w.clock.advance(61_000);
    await runDisputeJobs(w);
    await w.deliver();
    const settled = await w.t.services.disputes.get(dispute.id);
    assert.equal(settled.submission!.state, "submitted");
    assert.equal(settled.submission_count, 1);
    assert.equal(await atStripe(w, dispute.stripe_dispute), 1);
    assert.deepEqual(await submitEntries(w.t.kv), ["ok", "denied"]);
    assert.equal(
      (await auditEntries(w.t.kv)).filter((e) => e.action === "dispute.submission_settled").length,
      1,
    );
  }, { timeoutMs: 300 });
});

Deno.test("with Idempotency-Key: the same key replays; a new key from the same admin is the same submission", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, EVIDENCE);
    const send = async (key: string) => {
      w.clock.advance(31_000);
      const res = await w.t.app.request(
        `${API}/disputes/${dispute.id}/submit`,
        jsonRequest("POST", { ...otpHeaders(w.t, w.operator), "idempotency-key": key }),
      );
      return {
        status: res.status,
        replayed: res.headers.get("idempotent-replayed"),
        body: await res.json(),
      };
    };
    const first = await send("k1");
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const same = await send("k1");
    assert.equal(same.status, 200);
    assert.equal(same.replayed, "true");
    const fresh = await send("k2");
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.deepEqual(fresh.body.submission, first.body.submission);
    assert.deepEqual(await submitEntries(w.t.kv), ["ok"]);
    assert.equal(await atStripe(w, dispute.stripe_dispute), 1);
  });
});
