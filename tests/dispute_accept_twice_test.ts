/**
 * POST /disputes/{id}/accept sent again (README, "Dispute workbench",
 * Accepting once): the same operator's same accept (a second click, a retry
 * without a key, a burst) answers what the first did, with nothing written and
 * no denied entry; another operator's accept after it is 409 naming who
 * accepted it and when, audited denied. Two isolates close it once.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment } from "./helpers/disputes.ts";
import { auditEntries, jsonRequest, otpHeaders, stepUpHeaders } from "./helpers/identity.ts";

const acceptEntries = async (kv: Deno.Kv) =>
  (await auditEntries(kv)).filter((e) => e.action === "dispute.accept").map((e) => e.result);

Deno.test("accept sent again by the same operator answers the closed dispute; another's is 409 naming who and when", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/accept`;
    const note = "customer's bank confirmed fraud";
    const first = await call(w, w.operator, "POST", path, { note }, true);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const again = await call(w, w.operator, "POST", path, { note }, true);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.status, "lost");
    assert.deepEqual(again.body.history, first.body.history, "nothing written");
    assert.deepEqual(await acceptEntries(w.t.kv), ["ok"], "no second entry, no denied one");

    const theirs = await call(w, w.operator2, "POST", path, { note }, true);
    assert.equal(theirs.status, 409);
    const at = first.body.closing.requested_at;
    assert.ok(
      theirs.body.detail.includes(`accepted by ${w.operator.id} at ${at}`),
      theirs.body.detail,
    );
    const otherNote = await call(w, w.operator, "POST", path, { note: "another reason" }, true);
    assert.equal(otherNote.status, 409, "another note is another decision");
    assert.deepEqual(await acceptEntries(w.t.kv), ["ok", "denied", "denied"]);
  });
});

Deno.test("a burst of one operator's accept closes once and every answer is the close", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const headers = await stepUpHeaders(w.t, w.operator);
    const answers = await Promise.all(Array.from({ length: 6 }, () =>
      w.t.app.request(
        `${API}/disputes/${dispute.id}/accept`,
        jsonRequest("POST", headers, { note: "not worth fighting" }),
      )));
    const bodies = await Promise.all(answers.map((r) => r.json()));
    for (const [i, r] of answers.entries()) {
      // the first's close answered, or the close still in flight (202 processing)
      assert.ok([200, 202].includes(r.status), JSON.stringify(bodies[i]));
      const d = r.status === 200 ? bodies[i] : bodies[i].dispute;
      assert.equal(d.closing.requested_by, w.operator.id);
    }
    assert.ok(answers.some((r) => r.status === 200));
    assert.deepEqual(await acceptEntries(w.t.kv), ["ok"]);
    assert.equal((await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status, "lost");
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.history.filter((h) => h.action === "accept").length, 1);
  });
});

Deno.test("a large accept sent again by its requester answers the request waiting; nothing new is queued", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 60_000);
    const path = `/disputes/${dispute.id}/accept`;
    const note = "not worth fighting";
    const asked = await call(w, w.operator, "POST", path, { note }, true);
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const again = await call(w, w.operator, "POST", path, { note }, true);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.approval.id, asked.body.approval.id);
    assert.deepEqual(again.body.dispute.history, asked.body.dispute.history, "nothing written");
    const entries = await auditEntries(w.t.kv);
    assert.deepEqual(
      entries.filter((e) => e.target?.id === dispute.id && e.result === "denied"),
      [],
      "no denied entry for a second click",
    );
    const pending = (await w.t.services.approvals.list({ status: "pending", limit: 10 })).data;
    assert.deepEqual(pending.map((a: { id: string }) => a.id), [asked.body.approval.id]);
  });
});

Deno.test("isolates: two operators accepting one dispute on both at once close it once", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const { dispute } = await disputedPayment(w);
    const accept = (t: typeof w.t, h: Record<string, string>) =>
      t.app.request(
        `${API}/disputes/${dispute.id}/accept`,
        jsonRequest("POST", h, { note: "accepting the loss" }),
      );
    const answers = await Promise.all([
      accept(w.t, otpHeaders(w.t, w.operator)),
      accept(other.t, otpHeaders(w.t, w.operator2)),
    ]);
    const bodies = await Promise.all(answers.map((r) => r.json()));
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 409], JSON.stringify(bodies));
    const loser = bodies[answers.findIndex((r) => r.status === 409)];
    const winner = bodies[answers.findIndex((r) => r.status === 200)];
    assert.ok(loser.detail.includes(`accepted by ${winner.closing.requested_by}`), loser.detail);
    assert.deepEqual((await acceptEntries(w.t.kv)).sort(), ["denied", "ok"]);
    assert.equal((await w.stripe.disputes.retrieve(dispute.stripe_dispute)).status, "lost");
    await w.deliver();
    assert.equal((await w.t.services.audit.verify()).ok, true);
  }, { file: true });
});

Deno.test("the accepter's own accept with another note, after the close, is 409 naming them as you", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/accept`;
    const first = await call(w, w.operator, "POST", path, { note: "fraud confirmed" }, true);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const other = await call(w, w.operator, "POST", path, { note: "another reason" }, true);
    assert.equal(other.status, 409, JSON.stringify(other.body));
    assert.match(other.body.detail, new RegExp(`accepted by you \\(${w.operator.id}\\) at `));
    // anyone else reads the accepter's id
    const theirs = await call(w, w.operator2, "POST", path, { note: "fraud confirmed" }, true);
    assert.equal(theirs.status, 409);
    assert.match(theirs.body.detail, new RegExp(`accepted by ${w.operator.id} at `));
  });
});
