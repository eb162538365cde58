import assert from "node:assert/strict";
import { CommitBatcher } from "../services/webhooks/batch.ts";

function write(key: Deno.KvKey, guard: "new" | "any" = "new") {
  return {
    add(op: Deno.AtomicOperation) {
      if (guard === "new") op.check({ key, versionstamp: null });
      op.set(key, "v");
    },
    mutations: 2,
    bytes: 64,
  };
}

Deno.test("CommitBatcher shares one commit among concurrent writes", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const batcher = new CommitBatcher(kv);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => batcher.submit(write(["k", i]))),
    );
    assert.ok(results.every((r) => r.ok));
    const stamps = new Set(results.map((r) => r.ok ? r.versionstamp : ""));
    // the first write goes alone; the eleven queued behind it go together
    assert.equal(stamps.size, 2);
    for (let i = 0; i < 12; i++) assert.equal((await kv.get(["k", i])).value, "v");
  } finally {
    kv.close();
  }
});

Deno.test("CommitBatcher gives each write its own outcome when one check fails the batch", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(["k", 3], "already there");
    const batcher = new CommitBatcher(kv);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => batcher.submit(write(["k", i]))),
    );
    assert.deepEqual(results.map((r) => r.ok), [true, true, true, false, true, true]);
    assert.equal((await kv.get(["k", 3])).value, "already there");
    assert.equal((await kv.get(["k", 5])).value, "v");
  } finally {
    kv.close();
  }
});

Deno.test("CommitBatcher rejects only the write whose commit throws", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const batcher = new CommitBatcher(kv);
    const tooBig = {
      add: (op: Deno.AtomicOperation) => void op.set(["big"], "x".repeat(70_000)),
      mutations: 1,
      bytes: 64, // understated on purpose: KV refuses the value, not the batcher
    };
    const [a, b, c] = await Promise.allSettled([
      batcher.submit(write(["k", 1])),
      batcher.submit(tooBig),
      batcher.submit(write(["k", 2])),
    ]);
    assert.equal(a.status, "fulfilled");
    assert.equal(b.status, "rejected");
    assert.equal(c.status, "fulfilled");
    assert.equal((await kv.get(["k", 2])).value, "v");
  } finally {
    kv.close();
  }
});

Deno.test("CommitBatcher never puts two writes checking one key in one commit: the second is refused", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const batcher = new CommitBatcher(kv);
    // the lead commits alone; the rest queue behind it, two of them for one new key
    const results = await Promise.all([
      batcher.submit(write(["lead"])),
      batcher.submit(write(["k", 1])),
      batcher.submit(write(["k", 2])),
      batcher.submit(write(["k", 1])),
      batcher.submit(write(["k", 3])),
      batcher.submit(write(["k", 1])),
    ]);
    assert.deepEqual(results.map((r) => r.ok), [true, true, true, false, true, false]);
    // the other keys still share one commit with the first of ["k", 1]
    const stamp = (i: number) => results[i].ok ? (results[i] as { versionstamp: string }) : null;
    assert.equal(stamp(1)?.versionstamp, stamp(2)?.versionstamp);
    assert.equal(stamp(1)?.versionstamp, stamp(4)?.versionstamp);
  } finally {
    kv.close();
  }
});

Deno.test("CommitBatcher keeps two updates checked against one versionstamp apart: one lands", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const batcher = new CommitBatcher(kv);
    const stored = await kv.set(["rec"], 0);
    const update = (n: number) => ({
      add(op: Deno.AtomicOperation) {
        op.check({ key: ["rec"], versionstamp: stored.versionstamp }).set(["rec"], n);
      },
      mutations: 2,
      bytes: 64,
    });
    const results = await Promise.all([
      batcher.submit(write(["lead"])),
      batcher.submit(update(1)),
      batcher.submit(update(2)),
    ]);
    assert.deepEqual(results.map((r) => r.ok), [true, true, false]);
    assert.equal((await kv.get(["rec"])).value, 1);
  } finally {
    kv.close();
  }
});
