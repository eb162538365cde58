/**
 * Audited changes grouped into one commit (services/audit/group.ts): waiting
 * changes share a commit; a stale read in one of them fails only that one
 * (it is built again on fresh reads, the others land at once); overlapping
 * changes never share a commit; the chain has no gap or fork under a burst
 * from two handles (two isolates) with stale reads mixed in.
 */
import assert from "node:assert/strict";
import { TEST_SIGNING_KEY } from "./helpers/app.ts";
import { parseConfig } from "../config.ts";
import { ManualClock } from "../core/clock.ts";
import type { CallContext } from "../domain/actor.ts";
import type { Deps } from "../services/deps.ts";
import { silentLogger } from "../core/log.ts";
import { type AuditService, createAuditService } from "../services/audit/service.ts";
import { type AuditEntry, GENESIS_HASH } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";

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

function depsOf(kv: Deno.Kv, path = ":memory:"): Deps {
  const config = parseConfig({ KV_PATH: path });
  return {
    kv,
    clock: new ManualClock(),
    stripe: { call: () => Promise.reject(new Error("no Stripe here")) },
    config: { ...config, auditSigningKey: TEST_SIGNING_KEY },
    log: silentLogger(),
  };
}

function entry(id: string) {
  return { action: "group.test", target: { type: "thing", id }, result: "ok" as const };
}

async function assertChain(kv: Deno.Kv, n: number): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  for await (const row of kv.list<AuditEntry>({ prefix: keys.auditEntriesPrefix() })) {
    entries.push(row.value);
  }
  assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: n }, (_, i) => i + 1));
  let prev = GENESIS_HASH;
  for (const e of entries) {
    assert.equal(e.prev_hash, prev, `entry ${e.seq} links to ${e.seq - 1}`);
    prev = e.hash;
  }
  const head = (await kv.get<{ seq: number; hash: string }>(keys.auditHead())).value;
  assert.deepEqual({ seq: head?.seq, hash: head?.hash }, { seq: n, hash: prev });
  return entries;
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

Deno.test("changes waiting together land in one commit, each with its entry", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const { kv, n } = counted(raw);
    const audit = createAuditService(depsOf(kv));
    const block = blocker(audit);
    const changes = Array.from({ length: 10 }, (_, i) => bump(audit, kv, ["c", i]));
    block.release();
    await block.done;
    const before = n.ok;
    assert.deepEqual(await Promise.all(changes), Array(10).fill(0));
    assert.equal(n.ok - before, 1, "the ten waiting changes shared one commit");
    const entries = await assertChain(raw, 11);
    assert.deepEqual(
      entries.slice(1).map((e) => e.target?.id),
      Array.from({ length: 10 }, (_, i) => String(i)),
    );
    for (let i = 0; i < 10; i++) assert.equal((await raw.get(["c", i])).value, 1);
  } finally {
    raw.close();
  }
});

Deno.test("a stale read in one member fails only that member: it is built again, the others land", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const { kv, n } = counted(raw);
    const audit = createAuditService(depsOf(kv));
    const block = blocker(audit);
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
    const entries = await assertChain(raw, 7);
    assert.equal(entries.filter((e) => e.target?.id === "hot").length, 1);
  } finally {
    raw.close();
  }
});

Deno.test("changes to the same key never share a commit: no update is lost", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const { kv } = counted(raw);
    const audit = createAuditService(depsOf(kv));
    const block = blocker(audit);
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
    await assertChain(raw, 19);
  } finally {
    raw.close();
  }
});

Deno.test("a burst from two handles with stale reads mixed in: seqs 1..N, no gap, no fork", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit_group_" });
  const path = `${dir}/kv.sqlite3`;
  const kvA = await Deno.openKv(path);
  const kvB = await Deno.openKv(path);
  try {
    const services = [createAuditService(depsOf(kvA, path)), createAuditService(depsOf(kvB, path))];
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
    await assertChain(kvA, rounds);
    let total = 0;
    for (let k = 0; k < 3; k++) total += (await kvA.get<number>(["shared", k])).value ?? 0;
    assert.equal(total, commits, "every bump landed exactly once");
  } finally {
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});
