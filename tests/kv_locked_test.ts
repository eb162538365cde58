/**
 * A local KV file shared by several SQLite connections: the server's two handles
 * (main.ts: `kv` and `kvReads`), the admin CLI, the doctor. A checked commit
 * (reads, then a write) is refused at once with "database is locked" while
 * another connection holds the write lock; SQLite's 5 s busy wait applies only
 * to a commit that read nothing first. Once a server start died that way: its
 * second handle's opening pass (every handle deletes the expired keys when it
 * opens) held the lock while the demo's signing key was being stored.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { commitChecked } from "../kv/atomic.ts";
import { loadOrCreateSecret } from "../kv/secrets.ts";
import { openSecondHandle, openStore } from "../kv/open.ts";

async function withKvFile(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "payops-kv-locked-" });
  try {
    await fn(`${dir}/kv.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Another connection holding the write lock until `unlock()` (as a DELETE of expired keys does). */
function lockWrites(path: string): () => void {
  const db = new DatabaseSync(path);
  db.exec("BEGIN IMMEDIATE");
  return () => {
    db.exec("COMMIT");
    db.close();
  };
}

/** The write lock held for `ms`: for a commit that must wait it out. */
function holdWriteLock(path: string, ms: number): Promise<void> {
  const unlock = lockWrites(path);
  return new Promise((resolve) =>
    setTimeout(() => {
      unlock();
      resolve();
    }, ms)
  );
}

Deno.test("a checked commit waits out another connection's write lock instead of failing", async () => {
  await withKvFile(async (path) => {
    const kv = await Deno.openKv(path);
    try {
      await kv.set(["warm"], 1);
      const released = holdWriteLock(path, 300);
      // main.ts's first checked write in demo mode: the generated signing key
      const secret = await loadOrCreateSecret(kv, "audit_signing_key");
      await released;
      assert.match(secret, /^[0-9a-f]{64}$/);
      assert.equal(await loadOrCreateSecret(kv, "audit_signing_key"), secret);

      const again = holdWriteLock(path, 200);
      const { value } = await commitChecked(kv, async (op) => {
        const e = await kv.get<number>(["warm"]);
        op.check(e).set(["warm"], (e.value ?? 0) + 1);
        return (e.value ?? 0) + 1;
      });
      await again;
      assert.equal(value, 2);
      assert.equal((await kv.get(["warm"])).value, 2);
    } finally {
      kv.close();
    }
  });
});

Deno.test("a checked commit still fails when the lock outlasts its budget", async () => {
  await withKvFile(async (path) => {
    const kv = await Deno.openKv(path);
    try {
      await kv.set(["k"], 1);
      // held until the commit gave up (a lock on a timer could end first on a busy machine)
      const unlock = lockWrites(path);
      const err = await commitChecked(kv, async (op) => {
        const e = await kv.get(["k"]);
        op.check(e).set(["k"], 2);
      }, { lockWaitMs: 100 }).then(() => null, (e) => e);
      unlock();
      assert.ok(err instanceof Error);
      assert.match(err.message, /database is locked/);
      assert.equal((await kv.get(["k"])).value, 1, "nothing was written");
    } finally {
      kv.close();
    }
  });
});

Deno.test("the second handle's opening pass is over before main.ts writes on the first", async () => {
  await withKvFile(async (path) => {
    const kv = await Deno.openKv(path);
    let second: Deno.Kv | undefined;
    try {
      // Keys that expired while no handle was open to delete them (rate windows,
      // idempotency records): the next handle to open deletes them all in one
      // write transaction.
      for (let i = 0; i < 20_000; i += 500) {
        const op = kv.atomic();
        for (let j = i; j < i + 500; j++) op.set(["expiring", j], "x".repeat(40), { expireIn: 50 });
        await op.commit();
      }
      await new Promise((r) => setTimeout(r, 150));

      second = await openSecondHandle(path);
      let failures = 0;
      for (let i = 0; i < 100; i++) {
        // a raw checked commit, as Deno KV answers it, with no retry around it
        const e = await kv.get<number>(["n"]);
        await kv.atomic().check(e).set(["n"], i).commit().catch(() => failures++);
      }
      assert.equal(failures, 0, "a checked commit raced the second handle's opening pass");
      assert.equal((await second.list({ prefix: ["expiring"] }, { limit: 1 }).next()).done, true);
    } finally {
      second?.close();
      kv.close();
    }
  });
});

Deno.test("the server's handles send a checked commit refused as locked again: every path, not only commitChecked", async () => {
  await withKvFile(async (path) => {
    const kv = await openStore(path);
    const second = await openSecondHandle(path);
    try {
      await kv.set(["n"], 0);
      for (const handle of [kv, second]) {
        const released = holdWriteLock(path, 200);
        // a raw checked commit, as the intake's group commit and the jobs send theirs
        const e = await handle.get<number>(["n"]);
        const res = await handle.atomic().check(e).set(["n"], e.value! + 1).sum(["sum"], 1n)
          .commit();
        await released;
        assert.equal(res.ok, true);
      }
      assert.equal((await kv.get(["n"])).value, 2);
      assert.equal((await kv.get<Deno.KvU64>(["sum"])).value?.value, 2n, "each applied once");

      // a resent commit's checks are judged again when it lands: once the value moved
      // (here by the commit itself), sending it again is a conflict and writes nothing
      const e = await kv.get<number>(["n"]);
      const op = kv.atomic().check(e).set(["n"], 10).sum(["sum"], 1n);
      assert.equal((await op.commit()).ok, true);
      assert.equal((await op.commit()).ok, false);
      assert.equal((await kv.get<Deno.KvU64>(["sum"])).value?.value, 3n);
    } finally {
      second.close();
      kv.close();
    }
  });
});

Deno.test("a raw checked commit on a plain handle is refused at once while another connection writes", async () => {
  await withKvFile(async (path) => {
    const kv = await Deno.openKv(path);
    try {
      await kv.set(["n"], 0);
      const unlock = lockWrites(path);
      const e = await kv.get<number>(["n"]);
      const err = await kv.atomic().check(e).set(["n"], 1).commit().then(() => null, (x) => x);
      unlock();
      // what the handles main.ts and the CLIs open are guarded against (kv/open.ts)
      assert.ok(err instanceof Error && /database is locked/.test(err.message));
    } finally {
      kv.close();
    }
  });
});
