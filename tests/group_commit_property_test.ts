/**
 * The group committer against random contention: bursts of changes that each
 * read, check and bump a few of a handful of counters, some overlapping,
 * some landing while others are in flight or waiting, one writer outside the
 * committer moving counters underneath (another isolate). Every change must
 * land exactly once: each counter ends at the number of changes that bumped it.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { withTestApp } from "./helpers/app.ts";
import { createEventCommitter } from "../services/ingest/commit.ts";
import { stripeContext } from "../domain/actor.ts";

const ctx = stripeContext("evt_group_property");
const COUNTERS = 5;

const change = fc.record({
  keys: fc.uniqueArray(fc.integer({ min: 0, max: COUNTERS - 1 }), { minLength: 1, maxLength: 3 }),
  /** await everything submitted so far before submitting this one */
  barrier: fc.boolean(),
  /** an outside writer bumps this counter too (-1: none) */
  outside: fc.integer({ min: -1, max: COUNTERS - 1 }),
});

Deno.test("group commit: random overlapping changes each land exactly once", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 40 }), async (changes) => {
      await withTestApp(async (t) => {
        const committer = createEventCommitter(t.kv, t.services.audit);
        const expected = Array.from({ length: COUNTERS }, () => 0);
        const bump = async (op: Deno.AtomicOperation, i: number) => {
          const entry = await t.kv.get<number>(["prop_counter", i]);
          op.check(entry).set(["prop_counter", i], (entry.value ?? 0) + 1);
        };
        let pending: Promise<unknown>[] = [];
        for (const c of changes) {
          if (c.barrier) {
            await Promise.all(pending);
            pending = [];
          }
          if (c.outside >= 0) {
            expected[c.outside]++;
            pending.push((async () => {
              for (;;) {
                const op = t.kv.atomic();
                await bump(op, c.outside);
                if ((await op.commit()).ok) return;
              }
            })());
          }
          for (const k of c.keys) expected[k]++;
          pending.push(committer.commit(ctx, async (op) => {
            for (const k of c.keys) await bump(op, k);
            return { value: { applied: true, detail: c.keys.join(",") }, audit: [] };
          }));
        }
        await Promise.all(pending);
        for (let i = 0; i < COUNTERS; i++) {
          assert.equal((await t.kv.get(["prop_counter", i])).value ?? 0, expected[i], `#${i}`);
        }
      });
    }),
    { numRuns: 40 },
  );
});
