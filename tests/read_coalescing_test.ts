/**
 * Read coalescing (core/coalesce.ts) is not a cache: a caller only joins a
 * read that starts after it arrived. These show it in the coalescer itself
 * (a scripted schedule and a property over random ones) and where it is used:
 * a payment written before a listing arrives is always listed, and a token
 * rotated or an admin disabled before a request arrives is refused by every
 * such request, while other requests keep reads in flight throughout.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createCoalescer } from "../core/coalesce.ts";
import { withTestApp } from "./helpers/app.ts";
import { createAdmin } from "./helpers/identity.ts";
import { paymentStory, T0 } from "./helpers/stripe_objects.ts";
import { systemContext } from "../domain/actor.ts";

const cli = systemContext("cli");
const meta = { request_id: "req_coalescing", ip: null, user_agent: null };

/** A load the test finishes by hand; `n` counts the loads started. */
function scripted() {
  const started: { n: number; finish: (ok: boolean) => void }[] = [];
  const load = () =>
    new Promise<number>((resolve, reject) => {
      const n = started.length + 1;
      started.push({ n, finish: (ok) => ok ? resolve(n) : reject(new Error(`read ${n} failed`)) });
    });
  return { started, load };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("a caller joins only a read that starts after it arrived; one read per key runs", async () => {
  const c = createCoalescer<number>();
  const { started, load } = scripted();
  const a = c.read("k", load); // starts read 1
  const b = c.read("k", load); // read 1 began before b: b waits for read 2
  const d = c.read("k", load); // joins read 2 (not started yet)
  const other = c.read("other", load); // another key reads at once (read 2)
  assert.equal(started.length, 2);
  started[0].finish(true);
  assert.equal(await a, 1);
  await tick();
  assert.equal(started.length, 3); // read 3 ("k"'s second) started once read 1 ended
  const e = c.read("k", load); // read 3 is running: e waits for read 4
  started[2].finish(true);
  assert.deepEqual(await Promise.all([b, d]), [3, 3]);
  await tick();
  started[3].finish(true);
  assert.equal(await e, 4);
  started[1].finish(true);
  assert.equal(await other, 2);
  await tick();
  assert.equal(c.size, 0); // nothing kept once reads end
});

Deno.test("a failed read fails every caller of it, and the next read still runs", async () => {
  const c = createCoalescer<number>();
  const { started, load } = scripted();
  const first = c.read("k", load);
  const joiners = [c.read("k", load), c.read("k", load), c.read("k", load)];
  started[0].finish(true);
  assert.equal(await first, 1);
  await tick();
  const late = c.read("k", load); // read 2 (the joiners') is running: late waits for read 3
  started[1].finish(false);
  for (const j of joiners) await assert.rejects(j, /read 2 failed/);
  await tick();
  assert.equal(started.length, 3);
  started[2].finish(true);
  assert.equal(await late, 3);
  const sync = createCoalescer<number>();
  await assert.rejects(
    sync.read("k", () => {
      throw new Error("thrown at once");
    }),
    /thrown at once/,
  );
  assert.equal(await sync.read("k", () => Promise.resolve(7)), 7);
});

Deno.test("property: every answer comes from a read that started after its caller arrived", () => {
  // ops: a caller arrives at key 0..2, or the running read of key 0..2 ends (ok or failing)
  const op = fc.oneof(
    fc.record({ arrive: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ end: fc.integer({ min: 0, max: 2 }), ok: fc.boolean() }),
  );
  return fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const c = createCoalescer<number>();
      let starts = 0;
      const running = new Map<number, { n: number; finish: (ok: boolean) => void }[]>();
      const callers: { key: number; startsAtArrival: number; answer?: number; failed?: number }[] =
        [];
      const loadOf = (key: number) => () =>
        new Promise<number>((resolve, reject) => {
          const n = ++starts;
          const list = running.get(key) ?? [];
          list.push({ n, finish: (ok) => ok ? resolve(n) : reject(n) });
          running.set(key, list);
        });
      const settle = async () => {
        for (let i = 0; i < 3; i++) await tick();
      };
      for (const o of ops) {
        if ("arrive" in o) {
          const caller: (typeof callers)[number] = { key: o.arrive, startsAtArrival: starts };
          callers.push(caller);
          c.read(String(o.arrive), loadOf(o.arrive)).then(
            (n) => caller.answer = n,
            (n) => caller.failed = n,
          );
        } else {
          const list = running.get(o.end) ?? [];
          assert.ok(list.length <= 1, "one read per key at a time");
          list.shift()?.finish(o.ok);
        }
        await settle();
      }
      // end everything still running
      for (let more = true; more;) {
        more = false;
        for (const list of running.values()) {
          const r = list.shift();
          if (r) {
            r.finish(true);
            more = true;
          }
        }
        await settle();
      }
      for (const caller of callers) {
        const n = caller.answer ?? caller.failed;
        assert.ok(n !== undefined, "every caller is answered");
        assert.ok(n > caller.startsAtArrival, "its read started after it arrived");
      }
      assert.equal(c.size, 0);
    }),
    { numRuns: 100 },
  );
});

/** Keeps `n` loops calling `f` until `stop.done`; answers how many calls finished. */
function background(n: number, f: () => Promise<unknown>) {
  const stop = { done: false };
  let calls = 0;
  const loops = Array.from({ length: n }, async () => {
    while (!stop.done) {
      await f().catch(() => {});
      calls++;
    }
  });
  return {
    async end() {
      stop.done = true;
      await Promise.all(loops);
      return calls;
    },
  };
}

Deno.test("a payment written before a listing arrives is in it, with listings in flight throughout", async () => {
  await withTestApp(async (t) => {
    const list = () => t.services.transactions.list({ limit: 25 });
    const noise = background(8, list);
    for (let i = 0; i < 15; i++) {
      const story = paymentStory({ amount: 1000 + i });
      await t.services.stripeEvents.apply(story.created(T0 + 60 + i));
      const pages = await Promise.all([list(), list(), list()]);
      for (const page of pages) assert.equal(page.data[0]?.stripe_payment_intent, story.pi);
    }
    assert.ok(await noise.end() > 15);
  });
});

Deno.test("a token rotated, or an admin disabled, before a request arrives is refused by it", async () => {
  await withTestApp(async (t) => {
    const id = t.services.identity;
    const admin = await createAdmin(t, "viewer");
    let token = admin.token;
    const noise = background(8, () => id.authenticate(`Bearer ${token}`, meta));
    for (let i = 0; i < 10; i++) {
      const old = token;
      await id.authenticate(`Bearer ${old}`, meta);
      token = (await id.rotateToken(cli, admin.id)).token;
      const answers = await Promise.allSettled(
        [1, 2, 3].map(() => id.authenticate(`Bearer ${old}`, meta)),
      );
      for (const a of answers) assert.equal(a.status, "rejected");
      assert.equal((await id.authenticate(`Bearer ${token}`, meta)).admin_id, admin.id);
    }
    await id.updateAdmin(cli, admin.id, { status: "disabled" });
    await assert.rejects(id.authenticate(`Bearer ${token}`, meta), /disabled/);
    assert.ok(await noise.end() > 10);
  });
});
