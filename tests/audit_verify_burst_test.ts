/**
 * A burst of verifies (README, "Audit checkpoints": one walk at a time): each `expect_seq` check
 * or `full=true` verify walks the chain from seq 1, so this process runs one walk at a time; the
 * same verify asked for while one waits to start shares its answer; one that waits longer than
 * the gate allows is `503 verify_busy` with `Retry-After`. Walks are counted from the log lines
 * each one writes (`audit verify walk started` / `done`), real requests through `app.request()`.
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";

type LogLine = { msg: string; requests?: number };

function walkLines(t: TestApp): LogLine[] {
  return t.logs.map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.msg === "audit verify walk started" || l.msg === "audit verify walk done");
}

/** How many walks started, and the most that ran at once, from the log's order. */
function walks(t: TestApp) {
  let running = 0;
  let most = 0;
  let started = 0;
  for (const l of walkLines(t)) {
    if (l.msg === "audit verify walk started") (started++, running++);
    else running--;
    most = Math.max(most, running);
  }
  return { started, most };
}

function verify(t: TestApp, auditor: TestAdmin, query: string) {
  return t.app.request(`/api/admin/payments/audit-log/verify${query}`, {
    headers: authHeaders(auditor),
  });
}

async function entry(t: TestApp, seq: number) {
  return (await t.kv.get<AuditEntry>(keys.auditEntry(seq))).value!;
}

async function chainOf(t: TestApp, n: number) {
  const auditor = await createAdmin(t, "auditor");
  await addRefundEntries(t, n);
  return auditor;
}

Deno.test("a burst of distinct kept-checkpoint checks walks the chain one at a time, each answered", async () => {
  const t = await createTestApp({ services: { auditVerifyGate: { waitMs: 120_000 } } });
  try {
    const auditor = await chainOf(t, 300);
    const queries = await Promise.all(
      [...Array(10).keys()].map(async (i) => {
        const e = await entry(t, i + 1);
        return `?expect_seq=${e.seq}&expect_hash=${e.hash}`;
      }),
    );
    const answers = await Promise.all(queries.map((q) => verify(t, auditor, q)));
    for (const res of answers) {
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.ok, true, JSON.stringify(body));
    }
    assert.deepEqual(walks(t), { started: 10, most: 1 });
  } finally {
    await t.close();
  }
});

Deno.test("identical verifies sent at once share walks: at most one running, one waiting", async () => {
  const t = await createTestApp({ services: { auditVerifyGate: { waitMs: 120_000 } } });
  try {
    const auditor = await chainOf(t, 300);
    const e = await entry(t, 5);
    const q = `?expect_seq=5&expect_hash=${e.hash}`;
    const answers = await Promise.all([...Array(12).keys()].map(() => verify(t, auditor, q)));
    const bodies = [];
    for (const res of answers) {
      assert.equal(res.status, 200);
      bodies.push(await res.json());
    }
    for (const b of bodies) assert.equal(b.ok, true, JSON.stringify(b));
    const { started, most } = walks(t);
    assert.equal(most, 1);
    assert.ok(started <= 2, `${started} walks for 12 identical requests`);
    const answered = walkLines(t).filter((l) => l.msg === "audit verify walk done")
      .reduce((sum, l) => sum + (l.requests ?? 0), 0);
    assert.equal(answered, 12, "every request answered by one of the walks");
  } finally {
    await t.close();
  }
});

Deno.test("a verify that waits past the gate for the walk in progress is 503 verify_busy with Retry-After", async () => {
  const t = await createTestApp({ services: { auditVerifyGate: { waitMs: 0 } } });
  try {
    const auditor = await chainOf(t, 1500);
    const first = verify(t, auditor, "?full=true");
    while (walks(t).started === 0) await new Promise((r) => setTimeout(r, 1));
    const e = await entry(t, 3);
    const q = `?expect_seq=3&expect_hash=${e.hash}`;
    const busy = await verify(t, auditor, q);
    const problem = await busy.json();
    assert.equal(busy.status, 503, JSON.stringify(problem));
    assert.equal(problem.code, "verify_busy");
    assert.equal(busy.headers.get("retry-after"), "5");
    assert.match(problem.detail, /another audit-log verify is walking the chain.*again in 5 s/);
    assert.equal(walks(t).started, 1, "the refused one walked nothing");

    const done = await first;
    assert.equal(done.status, 200);
    assert.equal((await done.json()).ok, true);
    // the walk over, the same check is answered
    const again = await verify(t, auditor, q);
    assert.equal(again.status, 200);
    assert.equal((await again.json()).ok, true);
  } finally {
    await t.close();
  }
});
