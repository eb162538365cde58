/**
 * `verify?full=true` checks the filter indexes against the entries, both ways
 * (README, "Audit checkpoints": `index_mismatch`): an entry whose index rows
 * were deleted would otherwise vanish from every filtered view unseen.
 */
import assert from "node:assert/strict";
import { createIsolateOf, createTestApp, type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import type { CallContext } from "../domain/actor.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";

const BASE = "/api/admin/payments/audit-log";

const alice: CallContext = {
  actor: { type: "admin", id: "adm_alice", role: "admin" },
  request: { request_id: "req_i", ip: "198.51.100.1", user_agent: "test" },
  second_factor: true,
};

/** `n` entries after whatever is there: every third a locked second factor, the others refunds. */
async function add(t: TestApp, n: number) {
  for (let i = 1; i <= n; i++) {
    const locked = i % 3 === 0;
    await t.services.audit.record(alice, {
      action: locked ? "auth.otp_locked" : "refund.create",
      target: locked ? null : { type: "refund", id: `rfd_${i}` },
      result: locked ? "denied" : "ok",
    });
    t.clock.advance(1000);
  }
}

async function entry(t: TestApp, seq: number): Promise<AuditEntry> {
  return (await t.kv.get<AuditEntry>(keys.auditEntry(seq))).value!;
}

async function headSeq(t: TestApp): Promise<number> {
  return (await t.kv.get<{ seq: number }>(keys.auditHead())).value!.seq;
}

/** The newest `auth.otp_locked` entry: what someone with the KV would like to hide. */
async function newestLocked(t: TestApp): Promise<AuditEntry> {
  for (let s = await headSeq(t); s > 0; s--) {
    const e = await entry(t, s);
    if (e.action === "auth.otp_locked") return e;
  }
  throw new Error("no auth.otp_locked entry");
}

function badOf(r: { first_bad?: { seq: number; problem: string } }) {
  return { seq: r.first_bad?.seq, problem: r.first_bad?.problem };
}

Deno.test("attack: an entry's three index rows deleted with the server stopped is index_mismatch on verify?full=true", async () => {
  const t = await createTestApp({ file: true });
  try {
    const auditor = await createAdmin(t, "auditor");
    await add(t, 9);
    const hidden = await newestLocked(t);
    // the server stops; whoever holds the KV deletes only the entry's index rows
    await t.kv.delete(keys.auditByActor(hidden.actor.id, hidden.seq));
    await t.kv.delete(keys.auditByAction(hidden.action, hidden.seq));
    assert.equal(hidden.target, null, "this one has no target row");
    const restarted = await createIsolateOf(t);
    try {
      const listed = await (await restarted.app.request(`${BASE}?action=auth.otp_locked`, {
        headers: authHeaders(auditor),
      })).json();
      assert.ok(
        !listed.data.some((e: AuditEntry) => e.seq === hidden.seq),
        "the filtered view lost it: what the check is for",
      );
      const res = await restarted.app.request(`${BASE}/verify?full=true`, {
        headers: authHeaders(auditor),
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.ok, false, JSON.stringify(body));
      assert.deepEqual(badOf(body), { seq: hidden.seq, problem: "index_mismatch" });
      assert.match(body.first_bad.detail, /audit_by_actor/);
      assert.equal(body.entries, hidden.seq - 1, "the entries before it are intact");
    } finally {
      await restarted.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test("verify?full=true finds each kind of index damage, at the seq it concerns", async (tt) => {
  const t = await createTestApp();
  try {
    await add(t, 12);
    assert.equal((await t.services.audit.verify({ full: true })).ok, true);
    const e5 = await entry(t, 5); // refund.create, target rfd_5
    const e9 = await entry(t, 9); // auth.otp_locked

    await tt.step("one row of one entry gone (the target's)", async () => {
      await t.kv.delete(keys.auditByTarget("rfd_5", 5));
      const r = await t.services.audit.verify({ full: true });
      assert.deepEqual(badOf(r), { seq: 5, problem: "index_mismatch" });
      assert.match(r.first_bad!.detail, /audit_by_target/);
      await t.kv.set(keys.auditByTarget("rfd_5", 5), 5);
      assert.equal((await t.services.audit.verify({ full: true })).ok, true);
    });

    await tt.step(
      "a row that holds another entry's seq (the filter would show that one)",
      async () => {
        await t.kv.set(keys.auditByAction(e9.action, 9), 3);
        const r = await t.services.audit.verify({ full: true });
        assert.deepEqual(badOf(r), { seq: 9, problem: "index_mismatch" });
        await t.kv.set(keys.auditByAction(e9.action, 9), 9);
      },
    );

    await tt.step("an extra row naming an entry under an action it does not have", async () => {
      await t.kv.set(keys.auditByAction("auth.otp_locked", 5), 5);
      const r = await t.services.audit.verify({ full: true });
      assert.deepEqual(badOf(r), { seq: 5, problem: "index_mismatch" });
      assert.match(r.first_bad!.detail, /refund\.create/);
      await t.kv.delete(keys.auditByAction("auth.otp_locked", 5));
    });

    await tt.step("an entry moved to another actor's or target's index", async () => {
      await t.kv.delete(keys.auditByActor(e5.actor.id, 5));
      await t.kv.set(keys.auditByActor("adm_bob", 5), 5);
      let r = await t.services.audit.verify({ full: true });
      assert.deepEqual(badOf(r), { seq: 5, problem: "index_mismatch" });
      await t.kv.delete(keys.auditByActor("adm_bob", 5));
      await t.kv.set(keys.auditByActor(e5.actor.id, 5), 5);
      await t.kv.set(keys.auditByTarget("rfd_9", 9), 9); // entry 9 has no target
      r = await t.services.audit.verify({ full: true });
      assert.deepEqual(badOf(r), { seq: 9, problem: "index_mismatch" });
      await t.kv.delete(keys.auditByTarget("rfd_9", 9));
    });

    await tt.step("a row pointing at an entry that does not exist", async () => {
      await t.kv.set(keys.auditByActor(e5.actor.id, 40), 40);
      const r = await t.services.audit.verify({ full: true });
      assert.deepEqual(badOf(r), { seq: 40, problem: "index_mismatch" });
      assert.match(r.first_bad!.detail, /no entry 40/);
      await t.kv.delete(keys.auditByActor(e5.actor.id, 40));
    });

    await tt.step("the lowest seq is reported first", async () => {
      await t.kv.delete(keys.auditByAction(e9.action, 9));
      await t.kv.set(keys.auditByAction("auth.otp_locked", 2), 2);
      const r = await t.services.audit.verify({ full: true });
      assert.deepEqual(badOf(r), { seq: 2, problem: "index_mismatch" });
      await t.kv.delete(keys.auditByAction("auth.otp_locked", 2));
      await t.kv.set(keys.auditByAction(e9.action, 9), 9);
    });

    assert.equal((await t.services.audit.verify({ full: true })).ok, true);
  } finally {
    await t.close();
  }
});

Deno.test("the incremental verify does not read the indexes; the full one does, over many pages", async () => {
  const t = await createTestApp();
  try {
    await add(t, 450); // more than a page of entries and of index rows
    const hidden = await newestLocked(t);
    await t.kv.delete(keys.auditByAction(hidden.action, hidden.seq));
    const plain = await t.services.audit.verify({ full: false });
    assert.equal(plain.ok, true, "the plain verify checks the chain only (README)");
    const full = await t.services.audit.verify({ full: true });
    assert.deepEqual(badOf(full), { seq: hidden.seq, problem: "index_mismatch" });
  } finally {
    await t.close();
  }
});

Deno.test("verify?full=true while entries are being added says ok: their index rows are not extra", async () => {
  const t = await createTestApp();
  try {
    await add(t, 30);
    const writing = (async () => {
      for (let i = 0; i < 60; i++) {
        await t.services.audit.record(alice, { action: "x.y", target: null, result: "ok" });
      }
    })();
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await t.services.audit.verify({ full: true }));
    await writing;
    for (const r of results) assert.equal(r.ok, true, JSON.stringify(r));
  } finally {
    await t.close();
  }
});
