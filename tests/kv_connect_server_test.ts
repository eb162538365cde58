/**
 * The KV Connect test server speaks the protocol as Deno's own client expects:
 * the same operations against it and against a local `:memory:` KV give the
 * same answers (keys of every type in the same order, versionstamp checks,
 * sums, limits, reverse), a wrong access token is refused at open, and a
 * refused mutation leaves nothing written.
 */
import assert from "node:assert/strict";
import { openRemoteKv, withKvConnect } from "./helpers/kv_connect/mod.ts";

const KEYS: Deno.KvKey[] = [
  ["k", "b"],
  ["k", "a"],
  ["k", "a", "deeper"],
  ["k", 2],
  ["k", -1.5],
  ["k", 10n],
  ["k", true],
  ["k", false],
  ["k", new Uint8Array([0, 0xff])],
  ["k", ""],
  ["k", "\u00e9"],
  ["l", 1],
];

/** Runs the same script on a KV and returns what it observed (versionstamps as their order). */
async function script(kv: Deno.Kv) {
  const seen: unknown[] = [];
  for (const [i, key] of KEYS.entries()) await kv.set(key, { i, big: "x".repeat(i * 100) });
  const all = await Array.fromAsync(kv.list({ prefix: ["k"] }));
  seen.push(all.map((e) => e.key));
  seen.push((await Array.fromAsync(kv.list({ prefix: ["k"] }, { reverse: true, limit: 3 })))
    .map((e) => e.key));
  seen.push(
    (await Array.fromAsync(kv.list({ start: ["k", "a"], end: ["k", 2] }))).map((e) => e.key),
  );
  seen.push((await Array.fromAsync(kv.list({ prefix: ["k"] }, { batchSize: 2, limit: 5 })))
    .map((e) => e.key));
  const first = await kv.get<{ i: number }>(["k", "b"]);
  seen.push(first.value);
  // versionstamp checks: a stale one fails, a null check on a present key fails
  seen.push((await kv.atomic().check(first).set(["k", "b"], "v2").commit()).ok);
  seen.push((await kv.atomic().check(first).set(["k", "b"], "v3").commit()).ok);
  seen.push((await kv.atomic().check({ key: ["k", "a"], versionstamp: null }).commit()).ok);
  seen.push(
    (await kv.atomic().check({ key: ["none"], versionstamp: null }).set(["none"], 1)
      .commit()).ok,
  );
  // u64 arithmetic, including wrap-around as Deno's sum does
  await kv.atomic().sum(["n"], 5n).sum(["n"], 7n).commit();
  await kv.atomic().min(["m"], 9n).min(["m"], 4n).max(["x"], 1n).max(["x"], 8n).commit();
  await kv.atomic().sum(["w"], 0xffff_ffff_ffff_fffen).sum(["w"], 3n).commit();
  for (const k of ["n", "m", "x", "w"]) seen.push((await kv.get<Deno.KvU64>([k])).value?.value);
  await kv.set(["bytes"], new Uint8Array([1, 2, 3]));
  seen.push(await kv.get(["bytes"]).then((e) => e.value));
  await kv.delete(["k", "a"]);
  seen.push((await kv.getMany([["k", "a"], ["k", 2]])).map((e) => e.value));
  const stamps = (await Array.fromAsync(kv.list({ prefix: [] }))).map((e) => e.versionstamp);
  seen.push(stamps.every((s) => /^[0-9a-f]{20}$/.test(s)));
  return seen;
}

Deno.test("KV Connect server answers the same as a local KV, through Deno's own client", async () => {
  await withKvConnect(async (server) => {
    const local = await Deno.openKv(":memory:");
    const remote = await openRemoteKv(server.url);
    try {
      const expected = await script(local);
      assert.deepEqual(await script(remote), expected);
      assert.ok((server.counts.snapshot_read ?? 0) > 10, JSON.stringify(server.counts));
      assert.ok((server.counts.atomic_write ?? 0) > 10, JSON.stringify(server.counts));
    } finally {
      local.close();
      remote.close();
    }
  });
});

Deno.test("KV Connect server refuses a wrong access token (401), with its reason", async () => {
  await withKvConnect(async (server) => {
    // Deno 2.9 exchanges the token while opening; Deno 2.5 at the first operation.
    await assert.rejects(async () => {
      const kv = await openRemoteKv(server.url, "not-the-token");
      try {
        await kv.get(["any"]);
      } finally {
        kv.close();
      }
    }, /Invalid access token/);
    assert.equal(server.counts.metadata ?? 0, 0);
    assert.ok((server.counts.refused ?? 0) >= 1);
  });
});

Deno.test("KV Connect server: concurrent checked increments commit exactly once each", async () => {
  await withKvConnect(async (server) => {
    const kv = await openRemoteKv(server.url);
    try {
      await kv.set(["counter"], 0);
      const bump = async () => {
        for (;;) {
          const cur = await kv.get<number>(["counter"]);
          const r = await kv.atomic().check(cur).set(["counter"], cur.value! + 1).commit();
          if (r.ok) return;
        }
      };
      await Promise.all(Array.from({ length: 20 }, bump));
      assert.equal((await kv.get(["counter"])).value, 20);
    } finally {
      kv.close();
    }
  });
});

Deno.test("KV Connect server: a refused mutation writes nothing of its commit", async () => {
  await withKvConnect(async (server) => {
    const kv = await openRemoteKv(server.url);
    try {
      await kv.set(["text"], "not a number");
      await assert.rejects(
        kv.atomic().set(["other"], 1).sum(["text"], 1n).commit(),
        /400|not a Deno.KvU64/,
      );
      assert.equal((await kv.get(["other"])).versionstamp, null);
      assert.equal((await kv.get(["text"])).value, "not a number");
    } finally {
      kv.close();
    }
  });
});

Deno.test("KV Connect server: values expire at their expireIn, as KV's expiry promises", async () => {
  let now = Date.now();
  await withKvConnect(async (server) => {
    const kv = await openRemoteKv(server.url);
    try {
      await kv.set(["short"], 1, { expireIn: 60_000 });
      await kv.set(["long"], 2);
      assert.equal((await kv.get(["short"])).value, 1);
      now += 61_000;
      assert.equal((await kv.get(["short"])).value, null);
      assert.deepEqual((await Array.fromAsync(kv.list({ prefix: [] }))).map((e) => e.key), [[
        "long",
      ]]);
    } finally {
      kv.close();
    }
  }, { now: () => now, tokenTtlMs: 3_600_000_000 });
});
