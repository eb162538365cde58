/**
 * For any overlap of the attempts that may process one event (README, "Stripe
 * webhooks"): the attempt right after intake, still running when its lease
 * runs out; the retry job that takes it over then, still running when its
 * claim runs out; a forced replay that takes it over in turn; each succeeding
 * or failing, ending in any order, one at a time or all at once. At every
 * step `attempts` counts each ended attempt exactly once, and a record once
 * `processed` stays `processed` with `last_error` null; at the end it is
 * `processed` if any attempt succeeded, else `failed` with the last error.
 * Once processed, the retry job left behind ends without another attempt, and
 * a dismissal is refused.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { adminContext, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { customerEvent, postEvent, useApplier, WEBHOOK_ENV } from "./helpers/webhooks.ts";
import type { EventApplier } from "../services/webhooks/processing.ts";
import { INLINE_LEASE_MS } from "../services/webhooks/claims.ts";
import { CLAIM_MS } from "../services/webhooks/claims.ts";
import { webhookJobHandlers } from "../services/webhooks/service.ts";
import { listDeadJobs, listJobs, runDueJobs } from "../kv/jobs.ts";

type Kind = "inline" | "retry" | "replay";

interface Plan {
  /** which attempts run besides the inline one, and whether each succeeds */
  retry: boolean | null;
  replay: boolean | null;
  inline: boolean;
  /** the order their applier calls end in (a permutation of those that run) */
  order: number[];
  /** all released at once (their bookkeeping races) rather than one after the other */
  together: boolean;
}

/** The n-th call of `apply` waits until released, then fails or hands over to `base`. */
function gatedApplier(base: EventApplier) {
  const calls: { entered: PromiseWithResolvers<void>; go: PromiseWithResolvers<boolean> }[] = [];
  const slot = (n: number) =>
    calls[n] ??= { entered: Promise.withResolvers(), go: Promise.withResolvers() };
  let next = 0;
  const applier: EventApplier = {
    async apply(event, options) {
      const s = slot(next++);
      s.entered.resolve();
      if (!(await s.go.promise)) throw new Error("applier unavailable (injected by the test)");
      return await base.apply(event, options);
    },
  };
  return {
    applier,
    entered: (n: number) => slot(n).entered.promise,
    release: (n: number, ok: boolean) => slot(n).go.resolve(ok),
  };
}

const plan: fc.Arbitrary<Plan> = fc.record({
  retry: fc.option(fc.boolean()),
  replay: fc.option(fc.boolean()),
  inline: fc.boolean(),
  together: fc.boolean(),
  seed: fc.nat(),
}).map(({ seed, ...p }) => {
  const n = 1 + (p.retry === null ? 0 : 1) + (p.replay === null ? 0 : 1);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1, s = seed; i > 0; i--, s = Math.floor(s / 7)) {
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { ...p, order };
});

async function runPlan(t: TestApp, p: Plan, who: TestAdmin): Promise<void> {
  const gate = gatedApplier(t.services.stripeEvents);
  useApplier(t, gate.applier);
  const admin = adminContext(who);
  const cron = () => runDueJobs(t.kv, t.clock, webhookJobHandlers(t.services));
  const event = customerEvent();
  const kinds: Kind[] = ["inline"];
  const outcomes: boolean[] = [p.inline];
  const done: Promise<unknown>[] = [];

  // the attempt right after intake, held past its lease
  await (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
  await gate.entered(0);
  done.push(t.services.webhooks.drain());
  t.clock.advance(INLINE_LEASE_MS);
  if (p.retry !== null) {
    // the retry job takes it over, and is held past its claim
    done.push(cron());
    await gate.entered(kinds.length);
    kinds.push("retry");
    outcomes.push(p.retry);
    t.clock.advance(CLAIM_MS);
  }
  if (p.replay !== null) {
    done.push(t.services.webhooks.replay(admin, event.id, { force: true }));
    await gate.entered(kinds.length);
    kinds.push("replay");
    outcomes.push(p.replay);
  }

  const record = async () => await t.services.webhooks.get(event.id);
  let ended = 0;
  let processedSince: number | null = null;
  const check = async () => {
    const r = await record();
    const what = `after ${ended} of ${kinds.length} ended (${
      p.order.slice(0, ended).map((i) => `${kinds[i]} ${outcomes[i] ? "ok" : "failed"}`)
    })`;
    assert.equal(r.attempts, ended, `every ended attempt counted once, ${what}`);
    if (processedSince !== null) assert.equal(r.status, "processed", `never set back, ${what}`);
    if (r.status === "processed") {
      processedSince ??= ended;
      assert.equal(r.last_error, null, `a processed record shows no error, ${what}`);
    }
  };
  if (p.together) {
    for (const i of p.order) gate.release(i, outcomes[i]);
    await Promise.all(done);
    ended = kinds.length;
    await check();
  } else {
    for (const i of p.order) {
      gate.release(i, outcomes[i]);
      await done[i];
      ended++;
      await check();
    }
  }

  const final = await record();
  if (outcomes.some((ok) => ok)) {
    assert.equal(final.status, "processed");
    // the retry job left behind (rescheduled by a failed retry, say) ends with no attempt
    t.clock.advance(24 * 3600_000);
    await cron();
    assert.deepEqual(await listJobs(t.kv), []);
    assert.deepEqual(await listDeadJobs(t.kv), []);
    assert.equal((await record()).attempts, kinds.length, "no attempt once processed");
    await assert.rejects(
      () => t.services.webhooks.dismiss(admin, event.id, "will never process"),
      (e: { code?: string }) => e.code === "conflict",
    );
    assert.equal((await record()).status, "processed");
  } else {
    assert.equal(final.status, "failed");
    assert.match(final.last_error ?? "", /injected by the test/);
  }
  const replayed = kinds.indexOf("replay");
  if (replayed >= 0) {
    assert.equal(final.last_replay?.by, who.id);
    assert.equal(final.last_replay?.result, outcomes[replayed] ? "ok" : "failed");
  } else assert.equal(final.last_replay, null);
}

Deno.test("property: overlapping attempts count once each and never set a processed event back", async () => {
  await fc.assert(
    fc.asyncProperty(plan, async (p) => {
      const t = await createTestApp({ env: WEBHOOK_ENV });
      try {
        const admin = await createAdmin(t, "admin");
        await runPlan(t, p, admin);
      } finally {
        await t.services.webhooks.drain();
        await t.close();
      }
    }),
    { numRuns: 40 },
  );
});
