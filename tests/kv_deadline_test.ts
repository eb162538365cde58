/**
 * kv/deadline.ts: a store that stops answering (a KV Connect server gone) fails each operation
 * after the deadline with `503 unavailable` (a read, a list's page, a commit); a store that
 * answers is used as it is, chained atomic operations and list cursors included.
 */
import assert from "node:assert/strict";
import { isKvUnavailable, withKvDeadline } from "../kv/deadline.ts";
import { AppError } from "../core/errors.ts";
import { openRemoteKv, startKvConnect } from "./helpers/kv_connect/mod.ts";
import { ACCESS_TOKEN } from "./helpers/kv_connect/mod.ts";
import { finishWithin, settleWithin } from "../core/deadline.ts";

async function refusedWithin<T>(work: () => Promise<T>, ms: number): Promise<void> {
  const started = performance.now();
  await assert.rejects(work(), (e: unknown) => {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, "unavailable");
    assert.ok((e.retryAfter ?? 0) >= 1);
    assert.ok(isKvUnavailable(e));
    return true;
  });
  const took = performance.now() - started;
  assert.ok(took < ms, `refused after ${took} ms`);
}

Deno.test({
  name: "a store that stops answering: each operation is 503 unavailable after the deadline",
  // the store's own calls never answer: Deno 2.5 leaves them pending past `close()` (the
  // server exits with them, main.ts); what is tested is that the wrapper did not wait
  sanitizeOps: false,
}, async () => {
  const server = startKvConnect({ accessToken: ACCESS_TOKEN });
  const raw = await openRemoteKv(server.url);
  try {
    const kv = withKvDeadline(raw, 300);
    await kv.set(["a"], 1);
    assert.equal((await kv.get(["a"])).value, 1);
    await server.close();
    await refusedWithin(() => kv.get(["a"]), 3_000);
    await refusedWithin(() => kv.getMany([["a"], ["b"]]), 3_000);
    await refusedWithin(() => kv.atomic().set(["b"], 2).commit(), 3_000);
    await refusedWithin(async () => {
      for await (const _ of kv.list({ prefix: [] })) { /* never reached */ }
    }, 3_000);
    // the raw handle still waits: the deadline is the wrapper's
    assert.equal(await settleWithin(raw.get(["a"]), 500), "cut");
  } finally {
    raw.close();
    await server.close().catch(() => {});
  }
});

Deno.test("a store that answers: the wrapper changes nothing", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const kv = withKvDeadline(raw, 1_000);
    const got = await kv.get(["x"]);
    const res = await kv.atomic().check(got).set(["x"], 1).sum(["n"], 2n).commit();
    assert.ok(res.ok);
    const failed = await kv.atomic().check(got).set(["x"], 2).commit();
    assert.equal(failed.ok, false);
    for (let i = 0; i < 5; i++) await kv.set(["l", i], i);
    const page = kv.list<number>({ prefix: ["l"] }, { limit: 2 });
    const seen: number[] = [];
    for await (const e of page) seen.push(e.value);
    assert.deepEqual(seen, [0, 1]);
    const rest = kv.list<number>({ prefix: ["l"] }, { cursor: page.cursor });
    for await (const e of rest) seen.push(e.value);
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal((await kv.get(["x"])).value, 1);
    await kv.delete(["x"]);
    assert.equal((await kv.get(["x"])).value, null);
  } finally {
    raw.close();
  }
});

Deno.test("a commit or atomic wrapped again on the wrapper (as retryLockedCommits or a counting test does) calls through, once", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const kv = withKvDeadline(raw, 1_000);
    // kv.atomic replaced on the wrapper, calling the one it replaced
    let atomics = 0;
    const atomic = kv.atomic.bind(kv);
    kv.atomic = () => {
      atomics++;
      const op = atomic();
      // and commit replaced on the operation, calling the one it replaced
      const commit = op.commit.bind(op);
      op.commit = () => {
        commits++;
        return commit();
      };
      return op;
    };
    let commits = 0;
    const res = await kv.atomic().set(["k"], 1).commit();
    assert.ok(res.ok);
    assert.equal(atomics, 1);
    assert.equal(commits, 1);
    assert.equal((await raw.get(["k"])).value, 1);
  } finally {
    raw.close();
  }
});

Deno.test("settleWithin: done, cut, or the step's own failure", async () => {
  assert.equal(await settleWithin(Promise.resolve(1), 100), "done");
  assert.equal(await settleWithin(null, 100), "done");
  assert.equal(await settleWithin(new Promise(() => {}), 50), "cut");
  await assert.rejects(settleWithin(Promise.reject(new Error("boom")), 100), /boom/);
});

Deno.test("finishWithin: a step that ends says nothing; one cut or failed is named, and the stop goes on", async () => {
  const said: string[] = [];
  const warn = (msg: string) => void said.push(msg);
  await finishWithin("quick", () => Promise.resolve(), 1_000, warn);
  await finishWithin("none", () => undefined, 1_000, warn);
  await finishWithin("slow", () => new Promise(() => {}), 20, warn);
  await finishWithin("broken", () => Promise.reject(new Error("x")), 1_000, warn);
  assert.deepEqual(said, [
    "stopping without waiting longer for slow",
    "stopping: broken failed",
  ]);
});
