import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { auditEntries } from "./helpers/identity.ts";
import { paymentIntentObject, paymentStory, stripeEvent, T0 } from "./helpers/stripe_objects.ts";
import {
  createEventCommitter,
  Deferred,
  type EventBuild,
  noChange,
} from "../services/ingest/commit.ts";
import { stripeContext } from "../domain/actor.ts";
import type { StripeGateway } from "../services/stripe/gateway.ts";

const ctx = stripeContext("evt_join_test");

/** A plain change: set `key` to `value` (checked against what it read). */
function setBuild(kv: Deno.Kv, key: Deno.KvKey, value: unknown): EventBuild {
  return async (op) => {
    op.check(await kv.get(key)).set(key, value);
    return { value: { applied: true, detail: `set ${String(key[0])}` }, audit: [] };
  };
}

Deno.test("alsoInCommit writes land in the commit of the change, and alone when nothing changes", async () => {
  await withTestApp(async (t) => {
    const committer = createEventCommitter(t.kv, t.services.audit);
    const joined = await committer.commit(ctx, setBuild(t.kv, ["join_change"], 1), {
      alsoInCommit: (op, outcome) => void op.set(["join_record"], outcome.detail),
    });
    assert.deepEqual(joined, { applied: true, detail: "set join_change", joined: true });
    const [change, record] = await t.kv.getMany([["join_change"], ["join_record"]]);
    assert.equal(record.value, "set join_change");
    assert.equal(change.versionstamp, record.versionstamp);

    const none = await committer.commit(ctx, () => noChange("stale: already newer"), {
      alsoInCommit: (op, outcome) => void op.set(["join_none"], outcome),
    });
    assert.deepEqual(none, { applied: false, detail: "stale: already newer", joined: true });
    assert.deepEqual((await t.kv.get(["join_none"])).value, {
      applied: false,
      detail: "stale: already newer",
    });
  });
});

Deno.test("plainOnly: a change that needs the audit chain is deferred and writes nothing", async () => {
  await withTestApp(async (t) => {
    const committer = createEventCommitter(t.kv, t.services.audit);
    const audited: EventBuild = (op) => {
      op.set(["deferred_change"], true);
      return Promise.resolve({
        value: { applied: true, detail: "audited" },
        audit: [{ action: "test.audited", target: null, result: "ok" }],
      });
    };
    await assert.rejects(
      committer.commit(ctx, audited, {
        plainOnly: true,
        alsoInCommit: (op) => void op.set(["deferred_record"], true),
      }),
      Deferred,
    );
    const rows = await t.kv.getMany([["deferred_change"], ["deferred_record"]]);
    assert.deepEqual(rows.map((r) => r.value), [null, null]);
    assert.deepEqual(await auditEntries(t.kv), []);
  });
});

Deno.test("on the audited path alsoInCommit writes join the commit of the change and its entries", async () => {
  await withTestApp(async (t) => {
    const committer = createEventCommitter(t.kv, t.services.audit);
    const result = await committer.commit(ctx, (op) => {
      op.set(["audited_change"], true);
      return Promise.resolve({
        value: { applied: true, detail: "audited" },
        audit: [{ action: "test.audited", target: null, result: "ok" }],
      });
    }, { alsoInCommit: (op) => void op.set(["audited_record"], true) });
    assert.deepEqual(result, { applied: true, detail: "audited", joined: true });
    const [change, record] = await t.kv.getMany([["audited_change"], ["audited_record"]]);
    assert.equal(record.value, true);
    assert.equal(change.versionstamp, record.versionstamp);
    assert.deepEqual((await auditEntries(t.kv)).map((e) => e.action), ["test.audited"]);
  });
});

Deno.test("a group refused because one build read stale data is committed build by build, none lost", async () => {
  await withTestApp(async (t) => {
    const committer = createEventCommitter(t.kv, t.services.audit);
    let staleRuns = 0;
    let otherRuns = 0;
    const stale: EventBuild = async (op) => {
      const entry = await t.kv.get<number>(["refused_a"]);
      // The first time, someone else writes the key between our read and the commit.
      if (staleRuns++ === 0) await t.kv.set(["refused_a"], 100);
      op.check(entry).set(["refused_a"], (entry.value ?? 0) + 1);
      return { value: { applied: true, detail: "a" }, audit: [] };
    };
    const other: EventBuild = async (op) => {
      otherRuns++;
      const entry = await t.kv.get<number>(["refused_b"]);
      op.check(entry).set(["refused_b"], (entry.value ?? 0) + 1);
      return { value: { applied: true, detail: "b" }, audit: [] };
    };
    const results = await Promise.all([committer.commit(ctx, stale), committer.commit(ctx, other)]);
    assert.deepEqual(results.map((r) => r.detail), ["a", "b"]);
    assert.equal((await t.kv.get(["refused_a"])).value, 101, "built again on the fresh value");
    assert.equal((await t.kv.get(["refused_b"])).value, 1);
    assert.equal(staleRuns, 2);
    // grouped with the stale one (the usual case) it ran twice; alone, once
    assert.ok(otherRuns >= 1 && otherRuns <= 2);
  });
});

/** A gateway whose calls wait until the test settles them. */
function gatedGateway() {
  const calls: { reject: (e: Error) => void }[] = [];
  let called!: () => void;
  const firstCall = new Promise<void>((r) => called = r);
  const gateway: StripeGateway = {
    call() {
      return new Promise((_resolve, reject) => {
        calls.push({ reject });
        called();
      });
    },
  };
  return { gateway, calls, firstCall };
}

Deno.test("at intake a customer busy with work that waits on Stripe defers instead of queueing", async () => {
  const gate = gatedGateway();
  await withTestApp(async (t) => {
    const customer = "cus_busyWithStripe";
    const story = paymentStory({ customer });
    const second = T0 + 30;
    for (const e of story.failed(second)) await t.services.stripeEvents.apply(e);
    const retry = stripeEvent(
      "payment_intent.requires_action",
      paymentIntentObject({ id: story.pi, customer, status: "requires_action" }),
      second,
    );
    // Same-second decline and retry: the applier reads the PaymentIntent back from Stripe.
    const slow = t.services.stripeEvents.apply(retry);
    await gate.firstCall;

    const otherStory = paymentStory({ customer });
    const other = otherStory.created(T0 + 40);
    const atIntake = await t.services.stripeEvents.apply(other, { atIntake: true });
    assert.equal(atIntake.deferred, true);
    assert.equal(atIntake.applied, false);
    const ambiguous = await t.services.stripeEvents.apply(retry, { atIntake: true });
    assert.equal(ambiguous.deferred, true);
    assert.equal(gate.calls.length, 1, "nothing at intake calls Stripe");
    await assert.rejects(t.services.transactions.get(otherStory.pi), "nothing was written");

    gate.calls[0].reject(new Error("Stripe is unreachable"));
    await assert.rejects(slow, /Stripe is unreachable/);
    const later = await t.services.stripeEvents.apply(other, { atIntake: true });
    assert.deepEqual([later.applied, later.deferred], [true, undefined]);
  }, { stripe: gate.gateway });
});
