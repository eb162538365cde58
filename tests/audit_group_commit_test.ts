/**
 * Audited changes grouped into one commit (services/audit/group.ts): waiting
 * changes share a commit; a stale read in one of them fails only that one
 * (it is built again on fresh reads, the others land at once); overlapping
 * changes never share a commit; the chain has no gap or fork under a burst
 * from two handles (two isolates) with stale reads mixed in.
 */
import assert from "node:assert/strict";
import type { CallContext } from "../domain/actor.ts";
import { type AuditService, createAuditService } from "../services/audit/service.ts";
import { assertChainIsLinear, auditDeps, withTwoHandles } from "./helpers/audit_chain.ts";

const ctx: CallContext = {
  actor: { type: "admin", id: "adm_group", role: "operator" },
  request: null,
  second_factor: false,
};

/** `kv` counting its commits (ok and refused). */
function counted(kv: Deno.Kv) {
  const n = { ok: 0, refused: 0 };
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== "atomic") return typeof v === "function" ? v.bind(target) : v;
      return () => {
        const op = target.atomic();
        const commit = op.commit.bind(op);
        op.commit = async () => {
          const r = await commit();
          if (r.ok) n.ok++;
          else n.refused++;
          return r;
        };
        return op;
      };
    },
  });
  return { kv: wrapped, n };
}

function entry(id: string) {
  return { action: "group.test", target: { type: "thing", id }, result: "ok" as const };
}

/** The service with every change declared `shared` (its build checks all it reads). */
function sharedAudit(audit: AuditService): AuditService {
  return { ...audit, commit: (c, build, o) => audit.commit(c, build, { shared: true, ...o }) };
}

/** A change bumping its own counter, checked as read. */
function bump(audit: AuditService, kv: Deno.Kv, key: Deno.KvKey, runs?: { n: number }) {
  return audit.commit(ctx, async (op) => {
    if (runs) runs.n++;
    const e = await kv.get<number>(key);
    op.check(e).set(key, (e.value ?? 0) + 1);
    return { value: e.value ?? 0, audit: [entry(String(key[1]))] };
  });
}

/** Holds the queue with one change until `release` is called, so the next ones wait together. */
function blocker(audit: AuditService) {
  const gate = Promise.withResolvers<void>();
  const done = audit.commit(ctx, async (op) => {
    await gate.promise;
    op.set(["blocker"], true);
    return { value: null, audit: [entry("blocker")] };
  });
  return { release: () => gate.resolve(), done };
}

/** An audit service on a counted in-memory KV, its queue held by a blocker until released. */
async function withHeldQueue(
  fn: (
    s: { raw: Deno.Kv; kv: Deno.Kv; n: { ok: number; refused: number }; audit: AuditService },
    block: ReturnType<typeof blocker>,
  ) => Promise<void>,
) {
  const raw = await Deno.openKv(":memory:");
  try {
    const { kv, n } = counted(raw);
    const audit = sharedAudit(createAuditService(auditDeps(kv)));
    await fn({ raw, kv, n, audit }, blocker(audit));
  } finally {
    raw.close();
  }
}

Deno.test("changes waiting together land in one commit, each with its entry", () =>
  withHeldQueue(async ({ raw, kv, n, audit }, block) => {
    const changes = Array.from({ length: 10 }, (_, i) => bump(audit, kv, ["c", i]));
    block.release();
    await block.done;
    const before = n.ok;
    assert.deepEqual(await Promise.all(changes), Array(10).fill(0));
    assert.equal(n.ok - before, 1, "the ten waiting changes shared one commit");
    const entries = await assertChainIsLinear(raw, 11);
    assert.deepEqual(
      entries.slice(1).map((e) => e.target?.id),
      Array.from({ length: 10 }, (_, i) => String(i)),
    );
    for (let i = 0; i < 10; i++) assert.equal((await raw.get(["c", i])).value, 1);
  }));

Deno.test("a stale read in one member fails only that member: it is built again, the others land", () =>
  withHeldQueue(async ({ raw, kv, n, audit }, block) => {
    const runs = { stale: 0, others: 0 };
    const stale = audit.commit(ctx, async (op) => {
      runs.stale++;
      const e = await kv.get<number>(["hot"]);
      // another isolate changes what this build read, after it read it
      if (runs.stale === 1) await raw.set(["hot"], 100);
      op.check(e).set(["hot"], (e.value ?? 0) + 1);
      return { value: e.value, audit: [entry("hot")] };
    });
    const counter = { n: 0 };
    const others = Array.from({ length: 5 }, (_, i) => bump(audit, kv, ["o", i], counter));
    block.release();
    await block.done;
    assert.deepEqual(await Promise.all(others), Array(5).fill(0));
    assert.equal(await stale, 100, "built again on the fresh read");
    assert.equal(runs.stale, 2);
    assert.equal(counter.n, 5, "the other members were built once");
    assert.equal((await raw.get(["hot"])).value, 101, "the stale write never landed");
    assert.ok(n.refused >= 1);
    const entries = await assertChainIsLinear(raw, 7);
    assert.equal(entries.filter((e) => e.target?.id === "hot").length, 1);
  }));

Deno.test("changes to the same key never share a commit: no update is lost", () =>
  withHeldQueue(async ({ raw, kv, audit }, block) => {
    const same = Array.from({ length: 12 }, () => bump(audit, kv, ["same", 0]));
    // adds (`sum`) commute, so they may share; a set of the same key may not
    const sums = Array.from({ length: 6 }, () =>
      audit.commit(ctx, (op) => {
        op.sum(["total"], 5n);
        return Promise.resolve({ value: null, audit: [entry("total")] });
      }));
    block.release();
    await Promise.all([block.done, ...sums]);
    assert.deepEqual((await Promise.all(same)).sort((a, b) => a - b), [...Array(12).keys()]);
    assert.equal((await raw.get(["same", 0])).value, 12);
    assert.equal((await raw.get<Deno.KvU64>(["total"])).value?.value, 30n);
    await assertChainIsLinear(raw, 19);
  }));

Deno.test("a burst from two handles with stale reads mixed in: seqs 1..N, no gap, no fork", () =>
  withTwoHandles(async (kvA, kvB, path) => {
    const services = [
      sharedAudit(createAuditService(auditDeps(kvA, path))),
      sharedAudit(createAuditService(auditDeps(kvB, path))),
    ];
    const kvs = [kvA, kvB];
    await Promise.all(Array.from({ length: 24 }, async (_, i) => {
      const audit = services[i % 2];
      const kv = kvs[i % 2];
      for (let round = 0; round < 6; round++) {
        if (round % 3 === 2) {
          await audit.record(ctx, entry(`r${i}`));
        } else {
          // every writer also bumps one of three shared counters: stale reads across handles
          await bump(audit, kv, ["shared", (i + round) % 3]);
        }
      }
    }));
    const rounds = 24 * 6;
    const commits = 24 * 4;
    await assertChainIsLinear(kvA, rounds);
    let total = 0;
    for (let k = 0; k < 3; k++) total += (await kvA.get<number>(["shared", k])).value ?? 0;
    assert.equal(total, commits, "every bump landed exactly once");
  }));

Deno.test("a kept head gone stale (another handle appended) is caught by the commit's check", () =>
  withTwoHandles(async (kvA, kvB, path) => {
    const a = sharedAudit(createAuditService(auditDeps(kvA, path)));
    const b = sharedAudit(createAuditService(auditDeps(kvB, path)));
    await bump(a, kvA, ["k", "a"]); // A keeps the head its commit left
    await b.record(ctx, entry("from B")); // the head moves under A's kept copy
    await bump(a, kvA, ["k", "a"]);
    const entries = await assertChainIsLinear(kvA, 3);
    assert.deepEqual(entries.map((e) => e.target?.id), ["a", "from B", "a"]);
    assert.equal((await kvA.get(["k", "a"])).value, 2);
  }));

Deno.test("a member whose build throws, or whose value KV refuses, fails alone", () =>
  withHeldQueue(async ({ raw, kv, audit }, block) => {
    const thrown = audit.commit(ctx, () => Promise.reject(new Error("refused by its build")));
    const tooBig = audit.commit(ctx, (op) => {
      op.set(["big"], "x".repeat(70 * 1024)); // over KV's 64 KiB per value
      return Promise.resolve({ value: null, audit: [entry("big")] });
    });
    const others = Array.from({ length: 4 }, (_, i) => bump(audit, kv, ["ok", i]));
    block.release();
    await block.done;
    await assert.rejects(thrown, /refused by its build/);
    await assert.rejects(tooBig);
    assert.deepEqual(await Promise.all(others), Array(4).fill(0));
    const entries = await assertChainIsLinear(raw, 5);
    assert.ok(!entries.some((e) => e.target?.id === "big"));
  }));

Deno.test("a change not declared shared is built after the one before it landed, and commits alone", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const { kv, n } = counted(raw);
    const audit = createAuditService(auditDeps(kv)); // changes not declared shared
    const block = blocker(audit);
    // Each counts the steps before it WITHOUT checking them and writes its own
    // step: the keys are disjoint, so only building each after the one before it
    // landed gives every change a different count.
    const changes = Array.from({ length: 6 }, (_, i) =>
      audit.commit(ctx, async (op) => {
        let before = 0;
        for await (const _ of kv.list({ prefix: ["step"] })) before++;
        op.set(["step", i], before);
        return { value: before, audit: [entry(`step${i}`)] };
      }));
    block.release();
    await block.done;
    const before = n.ok;
    assert.deepEqual((await Promise.all(changes)).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
    assert.equal(n.ok - before, 6, "one commit each");
    await assertChainIsLinear(raw, 7);
  } finally {
    raw.close();
  }
});
