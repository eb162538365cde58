import assert from "node:assert/strict";
import { withKv } from "./helpers/kv.ts";
import { ManualClock } from "../core/clock.ts";
import { createIdFactory, idTime } from "../core/ids.ts";
import { CursorSealer, listPage } from "../kv/pagination.ts";
import { commitChecked, watchedAtomic } from "../kv/atomic.ts";
import { addJob, listDeadJobs, listJobs, runDueJobs } from "../kv/jobs.ts";
import { AppError } from "../core/errors.ts";

Deno.test("ids: prefixed ULIDs sort in creation order, even within one millisecond", () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 26));
  const newId = createIdFactory(clock);
  const ids: string[] = [];
  for (let i = 0; i < 500; i++) {
    if (i % 100 === 0) clock.advance(1);
    ids.push(newId("rfd"));
  }
  assert.match(ids[0], /^rfd_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(idTime(ids[0]), Date.UTC(2026, 10, 26) + 1);
});

Deno.test("cursors: a sealed cursor round-trips only for its own scope and secret", async () => {
  const sealer = new CursorSealer("secret-one-0123456789abcdef0123456789");
  const sealed = await sealer.seal("refunds?status=processing", "kvcursor123");
  assert.equal(await sealer.unseal("refunds?status=processing", sealed), "kvcursor123");
  const refused = async (scope: string, cursor: string, s = sealer) => {
    const err = await s.unseal(scope, cursor).then(() => null, (e) => e);
    assert.ok(err instanceof AppError);
    assert.equal(err.code, "validation_failed");
    assert.equal(err.errors?.[0].path, "query.cursor");
  };
  await refused("refunds?status=failed", sealed);
  await refused("refunds?status=processing", sealed.slice(0, -2) + "AA");
  await refused("refunds?status=processing", "not-a-cursor");
  await refused("refunds?status=processing", `${sealed}.extra`);
  await refused(
    "refunds?status=processing",
    sealed,
    new CursorSealer("secret-two-0123456789abcdef0123456789"),
  );
});

Deno.test("listPage() pages newest first and ends with next_cursor null", async () => {
  await withKv(async (kv) => {
    for (let i = 0; i < 7; i++) await kv.set(["things", `t${i}`], i);
    const sealer = new CursorSealer("secret-0123456789abcdef0123456789abcd");
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listPage<number>(kv, sealer, { prefix: ["things"] }, {
        limit: 3,
        cursor,
        scope: "things",
      });
      seen.push(...page.data);
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    assert.deepEqual(seen, [6, 5, 4, 3, 2, 1, 0]);
    assert.equal(pages, 3, "the last full page must not send the client to an empty one");
    const exact = await listPage<number>(kv, sealer, { prefix: ["things"] }, {
      limit: 7,
      scope: "things",
    });
    assert.equal(exact.next_cursor, null);
  });
});

Deno.test("commitChecked() retries a lost race and turns a race lost every time into 409 conflict", async () => {
  await withKv(async (kv) => {
    await kv.set(["balance"], 10);
    let builds = 0;
    const { value } = await commitChecked(kv, async (op) => {
      builds++;
      const entry = await kv.get<number>(["balance"]);
      if (builds === 1) await kv.set(["balance"], 20); // someone else writes in between
      op.check(entry).set(["balance"], (entry.value ?? 0) + 1);
      return (entry.value ?? 0) + 1;
    });
    assert.equal(value, 21);
    assert.equal(builds, 2);
    assert.equal((await kv.get(["balance"])).value, 21);

    const err = await commitChecked(kv, async (op) => {
      const entry = await kv.get<number>(["balance"]);
      await kv.set(["balance"], (entry.value ?? 0) + 100); // always loses
      op.check(entry).set(["balance"], 0);
    }, { attempts: 3, what: "the balance" }).then(() => null, (e) => e);
    assert.ok(err instanceof AppError);
    assert.equal(err.code, "conflict");
    assert.equal(err.status, 409);
    assert.match(err.message, /the balance was changed by another request/);
  });
});

Deno.test("jobs: a due job is claimed by one runner only, and finished jobs disappear", async () => {
  await withKv(async (kv) => {
    const clock = new ManualClock();
    const newId = createIdFactory(clock);
    const op = kv.atomic();
    addJob(op, clock, newId, "demo.work", { n: 1 });
    addJob(op, clock, newId, "demo.work", { n: 2 }, { dueAt: clock.now() + 60_000 });
    await op.commit();
    const ran: number[] = [];
    // The runner that claims the job holds it until the other runner's pass is over.
    let release!: () => void;
    const held = new Promise<void>((r) => release = r);
    const handlers = {
      "demo.work": async (job: { payload: unknown }) => {
        await held;
        ran.push((job.payload as { n: number }).n);
      },
    };
    const passes = [runDueJobs(kv, clock, handlers), runDueJobs(kv, clock, handlers)];
    await Promise.race(passes); // the runner without a claim finishes first
    release();
    const [a, b] = await Promise.all(passes);
    assert.deepEqual(ran, [1], "the job due now runs once; the later one waits");
    assert.equal(a.ran + b.ran, 1);
    assert.equal((await listJobs(kv)).length, 1);
    clock.advance(60_000);
    await runDueJobs(kv, clock, handlers);
    assert.deepEqual(ran, [1, 2]);
    assert.equal((await listJobs(kv)).length, 0);
  });
});

Deno.test("jobs: a failing job backs off, and after its last attempt is dead-lettered", async () => {
  await withKv(async (kv) => {
    const clock = new ManualClock();
    const newId = createIdFactory(clock);
    const op = kv.atomic();
    const job = addJob(op, clock, newId, "demo.flaky", {}, { maxAttempts: 3 });
    await op.commit();
    const handlers = { "demo.flaky": () => Promise.reject(new Error("Stripe said no")) };
    const backoffMs = (n: number) => n * 1000;
    assert.deepEqual(await runDueJobs(kv, clock, handlers, { backoffMs }), {
      ran: 0,
      failed: 1,
      dead: 0,
    });
    const [pending] = await listJobs(kv);
    assert.equal(pending.due_at, clock.now() + 1000);
    assert.equal(pending.attempts, 1);
    assert.equal(pending.last_error, "Stripe said no");
    // not due yet: nothing runs
    assert.deepEqual(await runDueJobs(kv, clock, handlers, { backoffMs }), {
      ran: 0,
      failed: 0,
      dead: 0,
    });
    clock.advance(1000);
    await runDueJobs(kv, clock, handlers, { backoffMs });
    clock.advance(2000);
    assert.deepEqual(await runDueJobs(kv, clock, handlers, { backoffMs }), {
      ran: 0,
      failed: 0,
      dead: 1,
    });
    assert.equal((await listJobs(kv)).length, 0);
    const [dead] = await listDeadJobs(kv);
    assert.equal(dead.id, job.id);
    assert.equal(dead.attempts, 3);
  });
});

Deno.test("jobs: a claimed job whose runner died is claimed again after the lease", async () => {
  await withKv(async (kv) => {
    const clock = new ManualClock();
    const newId = createIdFactory(clock);
    const op = kv.atomic();
    addJob(op, clock, newId, "demo.work", {});
    await op.commit();
    // a runner that claims and never finishes (its handler never settles within the pass)
    let release!: () => void;
    let started!: () => void;
    const claimed = new Promise<void>((r) => started = r);
    const stuck = runDueJobs(kv, clock, {
      "demo.work": () => {
        started();
        return new Promise<void>((r) => release = r);
      },
    }, { leaseMs: 30_000 });
    await claimed;
    assert.equal((await runDueJobs(kv, clock, { "demo.work": () => Promise.resolve() })).ran, 0);
    clock.advance(30_000);
    assert.equal((await runDueJobs(kv, clock, { "demo.work": () => Promise.resolve() })).ran, 1);
    release();
    await stuck;
  });
});

Deno.test("watchedAtomic() tells each check, set, delete and the commit, and keeps chaining on itself", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const seen: string[] = [];
    const op = watchedAtomic(kv.atomic(), {
      check: (c) => seen.push(`check ${c.key.join("/")}`),
      set: (key, value) => seen.push(`set ${key.join("/")}=${value}`),
      delete: (key) => seen.push(`delete ${key.join("/")}`),
      committed: (r) => seen.push(`committed ${r.ok}`),
    });
    const res = await op.check({ key: ["w", "a"], versionstamp: null })
      .set(["w", "a"], 1).set(["w", "b"], 2).delete(["w", "c"]).commit();
    assert.equal(res.ok, true);
    assert.deepEqual(seen, [
      "check w/a",
      "set w/a=1",
      "set w/b=2",
      "delete w/c",
      "committed true",
    ]);
    assert.equal((await kv.get(["w", "b"])).value, 2);
    const refused = await watchedAtomic(kv.atomic(), { committed: (r) => seen.push(`${r.ok}`) })
      .check({ key: ["w", "a"], versionstamp: null }).set(["w", "a"], 3).commit();
    assert.equal(refused.ok, false);
    assert.equal(seen.at(-1), "false");
  } finally {
    kv.close();
  }
});
