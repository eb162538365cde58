import assert from "node:assert/strict";
import fc from "fast-check";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import type { CallContext } from "../domain/actor.ts";
import { checkpointAuditHead } from "../services/audit/service.ts";
import { entryHash } from "../services/audit/entry.ts";
import type { AuditCheckpoint, AuditEntry } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";

const ctx: CallContext = {
  actor: { type: "admin", id: "adm_alice", role: "admin" },
  request: { request_id: "req_v", ip: "198.51.100.1", user_agent: "test" },
  second_factor: true,
};

/** A test app with `n` entries, one second apart. */
async function chainOf(n: number): Promise<TestApp> {
  const t = await createTestApp();
  for (let i = 1; i <= n; i++) {
    await t.services.audit.record(ctx, {
      action: i % 2 ? "refund.create" : "dispute.note",
      target: { type: "refund", id: `rfd_${i}` },
      result: "ok",
      after: { amount: i * 100 },
      reason: `entry ${i}`,
    });
    t.clock.advance(1000);
  }
  return t;
}

async function get(kv: Deno.Kv, seq: number): Promise<AuditEntry> {
  return (await kv.get<AuditEntry>(keys.auditEntry(seq))).value!;
}

/** What an attacker with KV access does: rewrite entries `from..head` with recomputed hashes. */
async function rewriteTail(kv: Deno.Kv, from: number, edit: (e: AuditEntry) => void) {
  const head = (await kv.get<{ seq: number; hash: string; at: number }>(keys.auditHead())).value!;
  let prev = (await get(kv, from - 1))?.hash ?? "0".repeat(64);
  for (let seq = from; seq <= head.seq; seq++) {
    const e = await get(kv, seq);
    if (seq === from) edit(e);
    e.prev_hash = prev;
    e.hash = await entryHash(e);
    await kv.set(keys.auditEntry(seq), e);
    prev = e.hash;
  }
  await kv.set(keys.auditHead(), { ...head, hash: prev });
}

Deno.test("audit.verify() accepts an intact chain and an empty one", async () => {
  const empty = await createTestApp();
  try {
    assert.deepEqual(await empty.services.audit.verify(), {
      ok: true,
      entries: 0,
      checkpoints: 0,
      head: { seq: 0, hash: "0".repeat(64) },
    });
  } finally {
    await empty.close();
  }
  const t = await chainOf(12);
  try {
    const r = await t.services.audit.verify();
    assert.equal(r.ok, true);
    assert.equal(r.entries, 12);
    assert.equal(r.first_bad, undefined);
    assert.equal(r.head.seq, 12);
  } finally {
    await t.close();
  }
});

Deno.test("audit.verify() finds an edited entry", async (t) => {
  const app = await chainOf(10);
  try {
    await t.step("content changed, hash left alone: hash_mismatch at that seq", async () => {
      const e = await get(app.kv, 4);
      await app.kv.set(keys.auditEntry(4), { ...e, reason: "nothing to see" });
      const r = await app.services.audit.verify();
      assert.equal(r.ok, false);
      assert.equal(r.entries, 3);
      assert.deepEqual(
        { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
        { seq: 4, problem: "hash_mismatch" },
      );
      await app.kv.set(keys.auditEntry(4), e);
      assert.equal((await app.services.audit.verify()).ok, true);
    });
    await t.step("content changed and its hash recomputed: the next link breaks", async () => {
      const e = await get(app.kv, 4);
      const forged = { ...e, result: "denied" as const };
      forged.hash = await entryHash(forged);
      await app.kv.set(keys.auditEntry(4), forged);
      const r = await app.services.audit.verify();
      assert.deepEqual(
        { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
        { seq: 5, problem: "prev_hash_mismatch" },
      );
    });
  } finally {
    await app.close();
  }
});

Deno.test("audit.verify() finds a deleted entry, in the middle and at the end", async () => {
  const t = await chainOf(8);
  try {
    await t.kv.delete(keys.auditEntry(5));
    let r = await t.services.audit.verify();
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 5, problem: "missing" },
    );
    assert.equal(r.entries, 4);
    await t.kv.set(keys.auditEntry(5), await get(t.kv, 4)); // restore-ish: wrong entry in the slot
    r = await t.services.audit.verify();
    assert.equal(r.first_bad?.problem, "out_of_order");
  } finally {
    await t.close();
  }
  const tail = await chainOf(8);
  try {
    await tail.kv.delete(keys.auditEntry(8));
    const r = await tail.services.audit.verify();
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 8, problem: "missing" },
    );
  } finally {
    await tail.close();
  }
});

Deno.test("audit.verify() finds two swapped entries", async () => {
  const t = await chainOf(8);
  try {
    const [a, b] = [await get(t.kv, 3), await get(t.kv, 6)];
    await t.kv.set(keys.auditEntry(3), b);
    await t.kv.set(keys.auditEntry(6), a);
    let r = await t.services.audit.verify();
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 3, problem: "out_of_order" },
    );
    // Swapping the seq numbers too does not help: the links no longer match.
    await t.kv.set(keys.auditEntry(3), { ...b, seq: 3 });
    await t.kv.set(keys.auditEntry(6), { ...a, seq: 6 });
    r = await t.services.audit.verify();
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 3, problem: "prev_hash_mismatch" },
    );
  } finally {
    await t.close();
  }
});

Deno.test("audit.verify() finds a head that does not match the chain", async () => {
  const t = await chainOf(5);
  try {
    const head = (await t.kv.get<{ seq: number; hash: string; at: number }>(keys.auditHead()))
      .value!;
    // Head moved back: entry 5 is stored past it.
    await t.kv.set(keys.auditHead(), { ...head, seq: 4, hash: (await get(t.kv, 4)).hash });
    let r = await t.services.audit.verify();
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 5, problem: "head_mismatch" },
    );
    await t.kv.set(keys.auditHead(), { ...head, hash: "f".repeat(64) });
    r = await t.services.audit.verify();
    assert.equal(r.first_bad?.problem, "head_mismatch");
    await t.kv.delete(keys.auditHead());
    r = await t.services.audit.verify();
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 1, problem: "head_mismatch" },
    );
  } finally {
    await t.close();
  }
});

Deno.test("a rewritten tail with recomputed hashes passes the links but not the signed checkpoint", async () => {
  const t = await chainOf(10);
  try {
    const made = await checkpointAuditHead(t.deps);
    assert.equal(made.ok && made.created, true);
    for (let i = 0; i < 5; i++) {
      await t.services.audit.record(ctx, { action: "later", target: null, result: "ok" });
    }
    await rewriteTail(t.kv, 6, (e) => {
      e.reason = "rewritten";
    });
    const r = await t.services.audit.verify();
    assert.equal(r.ok, false);
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 10, problem: "checkpoint_mismatch" },
    );
  } finally {
    await t.close();
  }
  // Without a checkpoint covering it, the same rewrite is undetectable: what checkpoints are for.
  const bare = await chainOf(10);
  try {
    await rewriteTail(bare.kv, 6, (e) => {
      e.reason = "rewritten";
    });
    assert.equal((await bare.services.audit.verify()).ok, true);
  } finally {
    await bare.close();
  }
});

Deno.test("audit.verify() refuses a checkpoint with a forged signature or past the end of the chain", async () => {
  const t = await chainOf(6);
  try {
    await checkpointAuditHead(t.deps);
    const cp = (await t.kv.get<AuditCheckpoint>(keys.auditCheckpoint(6))).value!;
    assert.equal((await t.services.audit.verify()).checkpoints, 1);
    await t.kv.set(keys.auditCheckpoint(6), { ...cp, at: cp.at + 1 });
    let r = await t.services.audit.verify();
    assert.equal(r.first_bad?.problem, "checkpoint_mismatch");
    assert.match(r.first_bad!.detail, /signature/);
    await t.kv.set(keys.auditCheckpoint(6), cp);
    // Truncate the chain below the signed head.
    await t.kv.delete(keys.auditEntry(6));
    await t.kv.set(keys.auditHead(), { seq: 5, hash: (await get(t.kv, 5)).hash, at: 0 });
    r = await t.services.audit.verify();
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 6, problem: "truncated" },
    );
  } finally {
    await t.close();
  }
});

Deno.test("checkpointAuditHead() signs the head once, and will not sign a tampered tail", async () => {
  const t = await chainOf(4);
  try {
    const first = await checkpointAuditHead(t.deps);
    assert.ok(first.ok && first.checkpoint);
    assert.equal(first.checkpoint.seq, 4);
    assert.equal(first.checkpoint.hash, (await get(t.kv, 4)).hash);
    assert.match(first.checkpoint.signature, /^[0-9a-f]{64}$/);
    const again = await checkpointAuditHead(t.deps);
    assert.deepEqual(again, { ok: true, checkpoint: first.checkpoint, created: false });

    await t.services.audit.record(ctx, { action: "x", target: null, result: "ok" });
    await t.services.audit.record(ctx, { action: "y", target: null, result: "ok" });
    const e = await get(t.kv, 5);
    await t.kv.set(keys.auditEntry(5), { ...e, action: "z" });
    const refused = await checkpointAuditHead(t.deps);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.first_bad.seq, 5);
    assert.equal((await t.kv.get(keys.auditCheckpoint(6))).value, null);

    await t.kv.set(keys.auditEntry(5), e);
    const next = await checkpointAuditHead(t.deps);
    assert.equal(next.ok && next.created && next.checkpoint.seq, 6);
    assert.equal((await t.services.audit.verify()).checkpoints, 2);
  } finally {
    await t.close();
  }
  const empty = await createTestApp();
  try {
    assert.deepEqual(await checkpointAuditHead(empty.deps), {
      ok: true,
      checkpoint: null,
      created: false,
    });
  } finally {
    await empty.close();
  }
});

Deno.test("audit.verify() reports any single-field edit at the entry that was edited", async () => {
  const t = await chainOf(12);
  const fields = ["id", "at", "action", "reason", "result", "ip", "after", "actor", "target"];
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(...fields),
        fc.string({ minLength: 1, maxLength: 8 }),
        async (seq, field, junk) => {
          const original = await get(t.kv, seq);
          const edited = { ...original, [field]: `${junk}!` } as AuditEntry;
          await t.kv.set(keys.auditEntry(seq), edited);
          try {
            const r = await t.services.audit.verify();
            assert.equal(r.ok, false);
            assert.equal(r.first_bad?.seq, seq);
            assert.equal(r.first_bad?.problem, "hash_mismatch");
          } finally {
            await t.kv.set(keys.auditEntry(seq), original);
          }
        },
      ),
      { numRuns: 40 },
    );
    assert.equal((await t.services.audit.verify()).ok, true);
  } finally {
    await t.close();
  }
});
