/**
 * A failure a full walk found stays on the plain (incremental) verify, with
 * when it was found, until a full walk passes again (README, "Audit
 * checkpoints").
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { responseChecker } from "./helpers/response_schema.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";
import { checkpointAuditHead } from "../services/audit/mod.ts";

const VERIFY = "/api/admin/payments/audit-log/verify";

const add = addRefundEntries;

Deno.test("a failure found by a full walk stays on the plain verify, with when it was found, until a full walk passes", async () => {
  const t = await createTestApp();
  try {
    const auditor = await createAdmin(t, "auditor");
    const doc = await (await t.app.request("/openapi.json")).json();
    const verify = async (query = "") => {
      const res = await t.app.request(`${VERIFY}${query}`, { headers: authHeaders(auditor) });
      const body = await res.json();
      responseChecker(doc).check("get", VERIFY, res.status, "application/json", body, query);
      return body;
    };
    await add(t, 6);
    await checkpointAuditHead(t.deps);
    assert.equal((await verify()).ok, true); // the marker: later plain verifies start after it
    await add(t, 3);
    const before = (await verify()).head.seq;

    const seq = 3;
    const original = (await t.kv.get<AuditEntry>(keys.auditEntry(seq))).value!;
    await t.kv.set(keys.auditEntry(seq), { ...original, reason: "edited" });
    assert.equal((await verify()).ok, true, "the plain verify starts after the edit");
    t.clock.advance(60_000);
    const foundAt = new Date(t.clock.now()).toISOString();
    const full = await verify("?full=true");
    assert.deepEqual(
      { seq: full.first_bad.seq, problem: full.first_bad.problem },
      { seq, problem: "hash_mismatch" },
    );
    assert.equal(full.first_bad.found_at, undefined, "a fresh finding is now");

    t.clock.advance(60_000);
    await add(t, 1);
    const plain = await verify();
    assert.equal(plain.ok, false, JSON.stringify(plain));
    assert.deepEqual(plain.first_bad, { ...full.first_bad, found_at: foundAt });
    assert.equal(plain.head.seq, before + 1, "the head as it is now");

    // repaired (or restored from a backup): still reported until a full walk passes
    await t.kv.set(keys.auditEntry(seq), original);
    assert.equal((await verify()).ok, false);
    assert.equal((await verify("?full=true")).ok, true);
    assert.equal((await verify()).ok, true);
  } finally {
    await t.close();
  }
});

Deno.test("a full walk failing only against the caller's kept checkpoint is not kept", async () => {
  const t = await createTestApp();
  try {
    await add(t, 4);
    const r = await t.services.audit.verify({
      full: true,
      expect: { seq: 2, hash: "ab".repeat(32) },
    });
    assert.equal(r.first_bad?.problem, "hash_mismatch");
    assert.equal((await t.services.audit.verify({ full: false })).ok, true);
  } finally {
    await t.close();
  }
});

Deno.test("an index problem a full walk found is kept too", async () => {
  const t = await createTestApp();
  try {
    await add(t, 4);
    await t.kv.delete(keys.auditByTarget("rfd_1", 2));
    const full = await t.services.audit.verify({ full: true });
    assert.equal(full.first_bad?.problem, "index_mismatch");
    const plain = await t.services.audit.verify({ full: false });
    assert.equal(plain.first_bad?.problem, "index_mismatch");
    assert.equal(typeof plain.first_bad?.found_at, "string");
  } finally {
    await t.close();
  }
});
