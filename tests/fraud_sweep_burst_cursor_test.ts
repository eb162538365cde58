/**
 * Sweeps started at once (`POST /fraud/sweeps` × 20) never overlap: each run
 * reads where the previous one ended, and when it starts, under the lease it
 * claims (README "When rules run"), so no run walks again what another
 * walked and run records follow one another.
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { generateStream } from "./helpers/fraud_stream.ts";
import { T0 } from "./helpers/stripe_objects.ts";
import { ManualClock } from "../core/clock.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

const BASE = "/api/admin/payments/fraud";
const ROUNDS = 6;

/** A clock that moves a millisecond each time it is read, so run intervals can be told apart. */
class TickingClock extends ManualClock {
  override now(): number {
    this.advance(1);
    return super.now();
  }
}

Deno.test("20 parallel sweeps: run intervals do not overlap and each starts at the previous run's cursor", async () => {
  const t = await createTestApp({ clock: new TickingClock(T0 * 1000) });
  try {
    const s = generateStream(T0, 3, 10);
    const analyst = await createAdmin(t, "analyst");
    const part = Math.ceil(s.events.length / ROUNDS);
    let ok = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // new payments each round, so each round's first run has something to walk
      for (const e of s.events.slice(round * part, (round + 1) * part)) {
        await t.services.stripeEvents.apply(e);
      }
      t.clock.advance(WALK_LAG_MS);
      const answers = await Promise.all(
        // sent over a few milliseconds, as clients do: some arrive while another run finishes
        Array.from({ length: 20 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i));
          return await sendJson(t, "POST", `${BASE}/sweeps`, authHeaders(analyst));
        }),
      );
      const codes = answers.map((a) => a.status);
      assert.ok(codes.every((c) => c === 200 || c === 409), codes.join(","));
      ok += codes.filter((c) => c === 200).length;
    }
    const runs = (await t.services.fraud.listSweeps({ limit: 200 })).data.sort((a, b) =>
      Date.parse(a.started_at) - Date.parse(b.started_at)
    );
    assert.equal(runs.length, ok);
    assert.equal(runs[0].cursor_from, null, "the first run walks from the start");
    for (let i = 1; i < runs.length; i++) {
      const [prev, run] = [runs[i - 1], runs[i]];
      assert.ok(prev.finished_at, prev.id);
      assert.ok(
        Date.parse(run.started_at) >= Date.parse(prev.finished_at),
        `${run.id} started at ${run.started_at}, before ${prev.id} finished at ${prev.finished_at}`,
      );
      assert.equal(run.cursor_from, prev.cursor, `${run.id} starts where ${prev.id} ended`);
    }
  } finally {
    await t.close();
  }
});
