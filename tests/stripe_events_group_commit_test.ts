import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { auditEntries } from "./helpers/identity.ts";
import { createEventCommitter, needsAudit, noChange } from "../services/ingest/commit.ts";
import { stripeContext } from "../domain/actor.ts";

/** The KV with every atomic op's `commit` passed through `wrap`. */
function withCommits(
  kv: Deno.Kv,
  wrap: (commit: () => Promise<Deno.KvCommitResult | Deno.KvCommitError>) => Promise<
    Deno.KvCommitResult | Deno.KvCommitError
  >,
): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => wrap(commit);
          return op;
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** The KV with its commits counted. */
function countingKv(kv: Deno.Kv) {
  const counter = { commits: 0 };
  const proxy = withCommits(kv, (commit) => {
    counter.commits++;
    return commit();
  });
  return { kv: proxy, counter };
}

const ctx = stripeContext("evt_group_test");

Deno.test("concurrent plain changes on distinct keys share commits", async () => {
  await withTestApp(async (t) => {
    const { kv, counter } = countingKv(t.kv);
    const committer = createEventCommitter(kv, t.services.audit);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        committer.commit(ctx, async (op) => {
          const entry = await t.kv.get(["group_test", i]);
          op.check(entry).set(["group_test", i], i);
          return { value: { applied: true, detail: `row ${i}` }, audit: [] };
        })),
    );
    assert.deepEqual(
      results.map((r) => r.detail),
      Array.from({ length: 40 }, (_, i) => `row ${i}`),
    );
    for (let i = 0; i < 40; i++) assert.equal((await t.kv.get(["group_test", i])).value, i);
    assert.ok(counter.commits < 40, `40 changes took ${counter.commits} commits`);
  });
});

Deno.test("changes touching the same key never share a commit, so none is lost", async () => {
  await withTestApp(async (t) => {
    const committer = createEventCommitter(t.kv, t.services.audit);
    await Promise.all(Array.from({ length: 25 }, () =>
      committer.commit(ctx, async (op) => {
        const entry = await t.kv.get<number>(["group_counter"]);
        op.check(entry).set(["group_counter"], (entry.value ?? 0) + 1);
        return { value: { applied: true, detail: "+1" }, audit: [] };
      })));
    assert.equal((await t.kv.get(["group_counter"])).value, 25);
  });
});

Deno.test("a change that needs the audit chain is committed with its entries; no change writes nothing", async () => {
  await withTestApp(async (t) => {
    const committer = createEventCommitter(t.kv, t.services.audit);
    let plainRuns = 0;
    const audited = await committer.commit(ctx, (op, isAudited) => {
      if (!isAudited) {
        plainRuns++;
        needsAudit();
      }
      op.set(["group_audited"], true);
      return Promise.resolve({
        value: { applied: true, detail: "audited" },
        audit: [{ action: "test.audited", target: null, result: "ok" }],
      });
    });
    assert.equal(audited.detail, "audited");
    assert.equal(plainRuns, 1);
    assert.equal((await t.kv.get(["group_audited"])).value, true);
    const entries = await auditEntries(t.kv);
    assert.deepEqual(entries.map((e) => [e.action, e.actor.type, e.request_id]), [
      ["test.audited", "stripe", "evt_group_test"],
    ]);

    const none = await committer.commit(ctx, () => noChange("nothing to do"));
    assert.deepEqual(none, { applied: false, detail: "nothing to do" });
  });
});

Deno.test("a change whose value KV cannot store fails alone; the changes grouped with it land", async () => {
  await withTestApp(async (t) => {
    const committer = createEventCommitter(t.kv, t.services.audit);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        committer.commit(ctx, async (op) => {
          const entry = await t.kv.get(["group_bad", i]);
          // a function is not a value KV can serialize
          op.check(entry).set(["group_bad", i], i === 5 ? { run: () => i } : i);
          return { value: { applied: true, detail: `row ${i}` }, audit: [] };
        })),
    );
    assert.equal(results[5].status, "rejected");
    for (const [i, r] of results.entries()) {
      if (i === 5) continue;
      assert.equal(r.status, "fulfilled", `row ${i}`);
      assert.equal((await t.kv.get(["group_bad", i])).value, i);
    }
    assert.equal((await t.kv.get(["group_bad", 5])).versionstamp, null);
  });
});

/**
 * The KV with its commits held at a gate until released, and how many were
 * sent and how many are not yet answered.
 */
function gatedKv(kv: Deno.Kv) {
  const state = { inFlight: 0, sent: 0, gates: [] as (() => void)[] };
  const proxy = withCommits(kv, async (commit) => {
    state.sent++;
    state.inFlight++;
    await new Promise<void>((open) => state.gates.push(open));
    try {
      return await commit();
    } finally {
      state.inFlight--;
    }
  });
  /** Opens the oldest gate (its commit goes to KV). */
  const release = () => state.gates.shift()!();
  return { kv: proxy, state, release };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

/** Waits (20 s at most: a busy machine is slow, never wrong) until `ready()`; throws `what` when it never is. */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 4000 && !ready(); i++) await tick();
  assert.ok(ready(), what);
}

Deno.test("a second group is sent while the first commits, never a third; a refused first group leaves the second standing", async () => {
  await withTestApp(async (t) => {
    const { kv, state, release } = gatedKv(t.kv);
    const committer = createEventCommitter(kv, t.services.audit);
    let built = 0;
    const bump = (key: Deno.KvKey) =>
      committer.commit(ctx, async (op) => {
        const entry = await t.kv.get<number>(key);
        op.check(entry).set(key, (entry.value ?? 0) + 1);
        built++;
        return { value: { applied: true, detail: String(key) }, audit: [] };
      });
    const all = [bump(["pipe", "a"])];
    await until(() => state.sent === 1, "the first group was not sent");
    all.push(bump(["pipe", "b"]));
    await until(() => state.sent === 2, "no second group while the first commits");
    // more changes, one of them reading "a" before the first group lands
    all.push(bump(["pipe", "c"]), bump(["pipe", "d"]), bump(["pipe", "a"]));
    // all five built (so a third group could have gone out), then a few turns to place them
    await until(() => built >= 5, "the last three changes were not built");
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(state.sent, 2, "a third group went out while two were in flight");
    assert.equal(state.inFlight, 2);
    // Another isolate moves "a" before the first group reaches KV: that group is refused.
    await t.kv.set(["pipe", "a"], 10);
    let settled = false;
    const done = Promise.all(all).finally(() => (settled = true));
    while (!settled) {
      while (state.gates.length) release();
      await tick();
    }
    await done;
    const values = await t.kv.getMany<number[]>(["a", "b", "c", "d"].map((k) => ["pipe", k]));
    assert.deepEqual(values.map((v) => v.value), [12, 1, 1, 1]);
  });
});
