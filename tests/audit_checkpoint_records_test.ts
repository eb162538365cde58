/**
 * Every signed checkpoint deleted with the signed count and the verified
 * marker, and the chain's tail cut off: the checkpoint cron's own run record
 * still says a checkpoint was signed (README, "Audit checkpoints"). Only a
 * checkpoint kept outside the service catches an attacker who rewrites that
 * record too.
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";
import { indexRowsOf } from "../kv/audit.ts";
import { runPeriodicTask } from "../services/background.ts";
import { timedCronRun } from "../services/metrics.ts";
import { verifyAuditChain } from "../services/audit/verify_chain.ts";

const MINUTE = 60_000;

const add = addRefundEntries;

/** The checkpoint cron as main.ts runs it: timed, its run recorded in KV. */
function checkpointCron(t: TestApp) {
  return timedCronRun(
    t.deps,
    "audit-checkpoint",
    () => runPeriodicTask(t.services, "audit-checkpoint"),
  );
}

async function head(t: TestApp) {
  return (await t.kv.get<{ seq: number; hash: string }>(keys.auditHead())).value!;
}

/** What the auditor's report describes: every checkpoint, the count, the marker, and the tail. */
async function deleteCheckpointsAndTail(t: TestApp, keep: number) {
  for await (const row of t.kv.list({ prefix: keys.auditCheckpointsPrefix() })) {
    await t.kv.delete(row.key);
  }
  await t.kv.delete(keys.auditCheckpointMeta());
  await t.kv.delete(keys.auditVerifiedMarker());
  const h = await head(t);
  for (let s = keep + 1; s <= h.seq; s++) {
    const gone = (await t.kv.get<AuditEntry>(keys.auditEntry(s))).value!;
    // its index rows too, or a full verify names them (`index_mismatch`)
    for (const row of indexRowsOf(gone)) await t.kv.delete(row.key);
    await t.kv.delete(keys.auditEntry(s));
  }
  const last = (await t.kv.get<AuditEntry>(keys.auditEntry(keep))).value!;
  await t.kv.set(keys.auditHead(), { seq: keep, hash: last.hash, at: last.at });
}

Deno.test("attack: every checkpoint, the signed count and the marker deleted, the tail cut: the cron's run record shows it", async () => {
  const t = await createTestApp();
  try {
    const auditor = await createAdmin(t, "auditor");
    await add(t, 5);
    t.clock.advance(2 * MINUTE);
    await checkpointCron(t);
    await add(t, 5);
    t.clock.advance(2 * MINUTE);
    await checkpointCron(t);
    const kept = await head(t); // what an auditor noted outside the service
    await add(t, 2);
    assert.equal((await t.services.audit.verify({ full: true })).ok, true);

    await deleteCheckpointsAndTail(t, 7);
    for (const query of ["", "?full=true"]) {
      const body = await (await t.app.request(`/api/admin/payments/audit-log/verify${query}`, {
        headers: authHeaders(auditor),
      })).json();
      assert.equal(body.ok, false, `${query}: ${JSON.stringify(body)}`);
      assert.equal(body.first_bad.problem, "missing", query);
      assert.equal(body.first_bad.seq, 1, "no signed checkpoint covers entry 1 any more");
      assert.match(body.first_bad.detail, /audit-checkpoint cron/);
    }

    // ... and with the cron's run records rewritten too, only the kept checkpoint tells
    await t.kv.delete(keys.cronRun("audit-checkpoint"));
    await t.kv.delete(keys.cronRunByOutcome("audit-checkpoint", "ok"));
    assert.equal((await t.services.audit.verify({ full: true })).ok, true, "the store's limit");
    const r = await t.services.audit.verify({ full: true, expect: kept });
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: kept.seq, problem: "truncated" },
    );
  } finally {
    await t.close();
  }
});

Deno.test("the newest checkpoints deleted with the signed count: entries the last cron run covered are missing", async () => {
  const t = await createTestApp();
  try {
    await add(t, 4);
    t.clock.advance(2 * MINUTE);
    await checkpointCron(t); // seq 4
    await add(t, 4);
    t.clock.advance(2 * MINUTE);
    await checkpointCron(t); // seq 8
    await t.kv.delete(keys.auditCheckpoint(8));
    await t.kv.delete(keys.auditCheckpointMeta());
    const r = await t.services.audit.verify({ full: true });
    assert.deepEqual(
      { seq: r.first_bad?.seq, problem: r.first_bad?.problem },
      { seq: 5, problem: "missing" },
    );
  } finally {
    await t.close();
  }
});

Deno.test("no false alarm: entries after the cron's last good run, or just before it, need no checkpoint yet", async () => {
  const t = await createTestApp();
  try {
    await checkpointCron(t); // before any entry: nothing to sign
    await add(t, 3);
    assert.equal((await t.services.audit.verify({ full: true })).ok, true);
    t.clock.advance(2 * MINUTE);
    await checkpointCron(t); // seq 3
    t.clock.advance(2 * MINUTE);
    // a run that started as entry 4 was being written read the head before it landed
    await add(t, 1);
    await timedCronRun(t.deps, "audit-checkpoint", () => Promise.resolve());
    await add(t, 3);
    for (const full of [false, true]) {
      const r = await t.services.audit.verify({ full });
      assert.equal(r.ok, true, JSON.stringify(r));
    }
    // a failed run signs nothing and says nothing about what should be signed
    t.clock.advance(5 * MINUTE);
    await assert.rejects(
      timedCronRun(t.deps, "audit-checkpoint", () => Promise.reject(new Error("kv down"))),
    );
    assert.equal((await t.services.audit.verify({ full: true })).ok, true);
  } finally {
    await t.close();
  }
});

/**
 * `kv`, except that `meanwhile` runs at the first listing of the checkpoints: after its rows
 * were read (`"after"`), or just before it starts (`"before"`).
 */
function aroundListing(kv: Deno.Kv, when: "before" | "after", meanwhile: () => Promise<void>) {
  let fired = false;
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          const prefix = "prefix" in selector ? selector.prefix : [];
          if (fired || prefix[0] !== keys.auditCheckpointsPrefix()[0]) {
            return target.list(selector, options);
          }
          fired = true;
          return (async function* () {
            if (when === "before") await meanwhile();
            const rows = [];
            for await (const row of target.list(selector, options)) rows.push(row);
            if (when === "after") await meanwhile();
            yield* rows;
          })();
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("no false alarm: a checkpoint signed while a verify walks is neither a deleted one nor a lost count", async () => {
  const t = await createTestApp();
  try {
    await add(t, 10);
    t.clock.advance(2 * MINUTE);
    await checkpointCron(t); // seq 10
    await add(t, 10);
    t.clock.advance(2 * MINUTE);
    // the verify has listed the checkpoints when the cron signs seq 20, counts it, records its run
    const kv = aroundListing(t.kv, "after", () => checkpointCron(t));
    for (const full of [true, false]) {
      const r = await verifyAuditChain({ ...t.deps, kv }, { full });
      assert.equal(r.ok, true, JSON.stringify(r));
    }
    assert.equal((await t.kv.get(keys.auditCheckpoint(20))).value !== null, true, "it signed");
  } finally {
    await t.close();
  }
});

Deno.test("no false alarm: entries appended and a checkpoint signed past the head a verify read are not a truncation, and nothing is kept as a failure", async () => {
  const t = await createTestApp();
  try {
    await add(t, 10);
    t.clock.advance(2 * MINUTE);
    await checkpointCron(t); // seq 10
    await add(t, 10);
    for (const full of [true, false]) {
      // the verify has read the head (seq 20 and on) when more entries land and the cron signs them
      const kv = aroundListing(t.kv, "before", async () => {
        await add(t, 5);
        t.clock.advance(2 * MINUTE);
        await checkpointCron(t);
      });
      const r = await verifyAuditChain({ ...t.deps, kv }, { full });
      assert.equal(r.ok, true, JSON.stringify(r));
    }
    assert.equal((await t.services.audit.verify({ full: false })).ok, true);
    const h = await head(t);
    assert.equal((await t.kv.get(keys.auditCheckpoint(h.seq))).value !== null, true, "it signed");
  } finally {
    await t.close();
  }
});
