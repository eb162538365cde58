/**
 * Checking a kept checkpoint (README, "Audit checkpoints": Check it) walks the chain from its
 * start up to it, whatever an earlier verify confirmed: an entry below the last confirmed
 * checkpoint edited in KV (its hash left alone) or deleted is found, not passed over by an
 * incremental walk.
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";
import { checkpointAuditHead } from "../services/audit/mod.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";

async function head(t: TestApp) {
  return (await t.kv.get<{ seq: number; hash: string }>(keys.auditHead())).value!;
}

async function verify(t: TestApp, auditor: TestAdmin, query: string) {
  const res = await t.app.request(`/api/admin/payments/audit-log/verify${query}`, {
    headers: authHeaders(auditor),
  });
  assert.equal(res.status, 200);
  return await res.json();
}

/** A chain of 10+ entries, signed and confirmed by a plain verify; the head the auditor kept. */
async function confirmedChain(t: TestApp) {
  const auditor = await createAdmin(t, "auditor");
  await addRefundEntries(t, 10);
  await checkpointAuditHead(t.deps);
  const kept = await head(t);
  const plain = await verify(t, auditor, "");
  assert.equal(plain.ok, true, JSON.stringify(plain));
  // the next plain verify starts from the checkpoint it confirmed
  assert.equal((await verify(t, auditor, "")).from_seq, kept.seq);
  return { auditor, kept, expect: `?expect_seq=${kept.seq}&expect_hash=${kept.hash}` };
}

Deno.test("a kept checkpoint's check finds an entry below the confirmed checkpoint edited in KV, its hash left alone", async () => {
  const t = await createTestApp();
  try {
    const { auditor, expect } = await confirmedChain(t);
    const entry = (await t.kv.get<AuditEntry>(keys.auditEntry(3))).value!;
    await t.kv.set(keys.auditEntry(3), { ...entry, result: "denied" });
    const body = await verify(t, auditor, expect);
    assert.equal(body.ok, false, JSON.stringify(body));
    assert.equal(body.first_bad.seq, 3);
    assert.equal(body.first_bad.problem, "hash_mismatch");
    assert.equal(body.from_seq, undefined, "walked from the chain's start");
  } finally {
    await t.close();
  }
});

Deno.test("a kept checkpoint's check finds an entry below the confirmed checkpoint deleted from KV", async () => {
  const t = await createTestApp();
  try {
    const { auditor, expect } = await confirmedChain(t);
    await t.kv.delete(keys.auditEntry(4));
    const body = await verify(t, auditor, expect);
    assert.equal(body.ok, false, JSON.stringify(body));
    assert.equal(body.first_bad.seq, 4);
    assert.equal(body.first_bad.problem, "missing");
  } finally {
    await t.close();
  }
});

Deno.test("a kept checkpoint's check on an intact chain is ok, walked from the start", async () => {
  const t = await createTestApp();
  try {
    const { auditor, kept, expect } = await confirmedChain(t);
    const body = await verify(t, auditor, expect);
    assert.equal(body.ok, true, JSON.stringify(body));
    assert.equal(body.from_seq, undefined);
    assert.ok(body.entries >= kept.seq);
  } finally {
    await t.close();
  }
});
