/**
 * Tamper evidence beyond the entries: truncation below a checkpoint the
 * auditor kept, deleted checkpoints (signed count), the signed log line, and
 * incremental verification from the last confirmed checkpoint.
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";
import { checkpointAuditHead } from "../services/audit/mod.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";

const add = addRefundEntries;

async function headSeq(t: TestApp) {
  return (await t.kv.get<{ seq: number; hash: string }>(keys.auditHead())).value!;
}

/** What an attacker with the KV does: delete entries after `keep` and move the head back. */
async function truncateTo(t: TestApp, keep: number) {
  const head = await headSeq(t);
  for (let s = keep + 1; s <= head.seq; s++) await t.kv.delete(keys.auditEntry(s));
  const last = (await t.kv.get<AuditEntry>(keys.auditEntry(keep))).value!;
  await t.kv.set(keys.auditHead(), { seq: keep, hash: last.hash, at: last.at });
}

Deno.test("attack: deleting the newest entries after the last checkpoint shows as truncated against a kept checkpoint", async () => {
  const t = await createTestApp();
  try {
    await add(t, 6);
    await checkpointAuditHead(t.deps);
    await add(t, 4);
    const kept = await headSeq(t); // what the auditor noted (or the last log line)
    await truncateTo(t, 8);
    const auditor = await createAdmin(t, "auditor");
    const res = await t.app.request(
      `/api/admin/payments/audit-log/verify?full=true&expect_seq=${kept.seq}&expect_hash=${kept.hash}`,
      { headers: authHeaders(auditor) },
    );
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.ok, false);
    assert.equal(body.first_bad.problem, "truncated");
    assert.equal(body.first_bad.seq, kept.seq);
    const bad = await t.app.request(
      "/api/admin/payments/audit-log/verify?expect_seq=3",
      { headers: authHeaders(auditor) },
    );
    assert.equal(bad.status, 422);
    await bad.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("attack: deleting checkpoints, then entries, is detected by the signed count", async () => {
  const t = await createTestApp();
  try {
    await add(t, 4);
    await checkpointAuditHead(t.deps);
    await add(t, 4);
    await checkpointAuditHead(t.deps);
    assert.equal((await t.services.audit.verify()).ok, true);
    // the newest checkpoint and the entries it covered
    await t.kv.delete(keys.auditCheckpoint(8));
    await truncateTo(t, 6);
    let r = await t.services.audit.verify({ full: true });
    assert.equal(r.ok, false);
    assert.equal(r.first_bad?.problem, "truncated");
    // an older checkpoint alone
    const t2 = await createTestApp();
    try {
      await add(t2, 3);
      await checkpointAuditHead(t2.deps);
      await add(t2, 3);
      await checkpointAuditHead(t2.deps);
      await t2.kv.delete(keys.auditCheckpoint(3));
      r = await t2.services.audit.verify({ full: true });
      assert.equal(r.first_bad?.problem, "missing");
      assert.match(r.first_bad!.detail, /1 of 2 signed checkpoints were deleted/);
    } finally {
      await t2.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test("each checkpoint is also a signed log line", async () => {
  const t = await createTestApp();
  try {
    await add(t, 3);
    const made = await checkpointAuditHead(t.deps);
    assert.ok(made.ok && made.checkpoint);
    const line = t.logs.find((l) => l.includes("audit checkpoint"));
    assert.ok(line, "logged");
    assert.ok(line.includes(made.checkpoint.signature), "with its signature");
    assert.ok(line.includes(`3|${made.checkpoint.hash}`));
  } finally {
    await t.close();
  }
});

Deno.test("verify is incremental from the last confirmed checkpoint; full=true walks everything", async () => {
  const t = await createTestApp();
  try {
    await add(t, 5);
    await checkpointAuditHead(t.deps);
    assert.equal((await t.services.audit.verify({ full: false })).ok, true);
    await add(t, 3);
    const inc = await t.services.audit.verify({ full: false });
    assert.equal(inc.ok, true);
    assert.equal(inc.from_seq, 5);
    assert.equal(inc.entries, 3, "only the entries after the confirmed checkpoint");
    // an edit after the confirmed checkpoint is still found incrementally
    const e7 = (await t.kv.get<AuditEntry>(keys.auditEntry(7))).value!;
    await t.kv.set(keys.auditEntry(7), { ...e7, reason: "edited" });
    const found = await t.services.audit.verify({ full: false });
    assert.equal(found.first_bad?.problem, "hash_mismatch");
    assert.equal(found.first_bad?.seq, 7);
    await t.kv.set(keys.auditEntry(7), e7);
    // an edit before it: the incremental walk starts later, the full one finds it
    const e2 = (await t.kv.get<AuditEntry>(keys.auditEntry(2))).value!;
    await t.kv.set(keys.auditEntry(2), { ...e2, reason: "edited" });
    const full = await t.services.audit.verify({ full: true });
    assert.equal(full.first_bad?.problem, "hash_mismatch");
    assert.equal(full.first_bad?.seq, 2);
  } finally {
    await t.close();
  }
});
