/**
 * `POST /fraud/sweeps` sent many times at once: one starts, the others are
 * refused (409, audited `fraud_sweep.start` denied naming the run that holds
 * the lease). The audit log never shows a refusal before the start of the run
 * it names, and the refusal names a run that is recorded, with who started it
 * (README "When rules run", "Workflow").
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { keys } from "../kv/keys.ts";

const BASE = "/api/admin/payments/fraud";

Deno.test("parallel POST /fraud/sweeps: a refusal never comes before the start of the run it names", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(
        Array.from(
          { length: 10 },
          () => sendJson(t, "POST", `${BASE}/sweeps`, authHeaders(analyst)),
        ),
      );
      const codes = answers.map((a) => a.status);
      assert.ok(codes.every((c) => c === 200 || c === 409), codes.join(","));
      assert.ok(codes.includes(200), codes.join(","));
      for (const a of answers.filter((x) => x.status === 409)) {
        // the run named is recorded: the refusal says who started it and when
        assert.match(a.body.detail, /\(sweep_\w+, started by adm_\w+ at /, a.body.detail);
      }
    }
    const entries = (await auditEntries(t.kv)).filter((e) => e.action === "fraud_sweep.start");
    const startedAt = new Map<string, number>();
    let refusals = 0;
    for (const e of entries) {
      if (e.result === "ok") {
        startedAt.set(e.target!.id, e.seq);
        continue;
      }
      assert.equal(e.result, "denied");
      refusals++;
      const named = /sweep_[0-9A-Z]{26}/.exec(e.reason ?? "")?.[0];
      assert.ok(named, e.reason ?? "");
      const at = startedAt.get(named);
      assert.ok(at !== undefined && at < e.seq, `denied #${e.seq} names ${named}, not started yet`);
    }
    assert.ok(refusals > 0, "some were refused");
    const runs = (await sendJson(t, "GET", `${BASE}/sweeps?limit=100`, authHeaders(analyst))).body;
    assert.deepEqual(
      runs.data.map((r: { id: string }) => r.id).sort(),
      [...startedAt.keys()].sort(),
      "every run started is recorded",
    );
  });
});

Deno.test("a walker that died keeps its lease until it runs out, then another sweep starts", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const first = await sendJson(t, "POST", `${BASE}/sweeps`, authHeaders(analyst));
    assert.equal(first.status, 200);
    // the run died holding its lease (as a crash between its batches leaves it)
    await t.kv.set(keys.fraudCursor("sweep:lease"), {
      run: first.body.id,
      until: t.clock.now() + 10 * 60_000,
    });
    const busy = await sendJson(t, "POST", `${BASE}/sweeps`, authHeaders(analyst));
    assert.equal(busy.status, 409);
    t.clock.advance(10 * 60_000 + 1);
    const next = await sendJson(t, "POST", `${BASE}/sweeps`, authHeaders(analyst));
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.notEqual(next.body.id, first.body.id);
  });
});
