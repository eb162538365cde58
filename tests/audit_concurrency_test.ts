import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { CallContext } from "../domain/actor.ts";
import type { Deps } from "../services/deps.ts";
import { createAuditService } from "../services/audit/service.ts";
import { verifyAuditChain } from "../services/audit/verify_chain.ts";
import { keys } from "../kv/keys.ts";
import { assertChainIsLinear, auditDeps } from "./helpers/audit_chain.ts";

function writer(i: number): CallContext {
  return {
    actor: { type: "admin", id: `adm_w${i}`, role: "operator" },
    request: { request_id: `req_${i}`, ip: null, user_agent: null },
    second_factor: false,
  };
}

Deno.test("50 concurrent writers via commit() and record() produce seqs 1..N with no gap or fork", async () => {
  await withTestApp(async (t) => {
    const writers = 50;
    await Promise.all(Array.from({ length: writers }, async (_, i) => {
      for (let round = 0; round < 4; round++) {
        if ((i + round) % 2 === 0) {
          await t.services.audit.record(writer(i), {
            action: "auth.otp_failed",
            target: null,
            result: "denied",
            reason: `round ${round}`,
          });
        } else {
          await t.services.audit.commit(writer(i), async (op) => {
            const counter = await t.kv.get<number>(["counter", i]);
            op.check(counter).set(["counter", i], (counter.value ?? 0) + 1);
            return {
              value: null,
              audit: [{
                action: "counter.bump",
                target: { type: "counter", id: `c${i}` },
                result: "ok",
              }],
            };
          });
        }
      }
    }));
    const entries = await assertChainIsLinear(t.kv, writers * 4);
    for (let i = 0; i < writers; i++) {
      assert.equal((await t.kv.get(["counter", i])).value, 2);
    }
    const result = await t.services.audit.verify();
    assert.equal(result.ok, true);
    assert.equal(result.entries, writers * 4);
    assert.equal(entries.filter((e) => e.action === "counter.bump").length, writers * 2);
  });
});

Deno.test("a burst of audit.record() calls is batched into far fewer commits than entries", async () => {
  await withTestApp(async (t) => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        t.services.audit.record(writer(i), {
          action: "refund.self_approval_denied",
          target: { type: "refund", id: `rfd_${i}` },
          result: "denied",
        })),
    );
    const stamps = new Set<string>();
    for await (const row of t.kv.list({ prefix: keys.auditEntriesPrefix() })) {
      stamps.add(row.versionstamp);
    }
    await assertChainIsLinear(t.kv, 40);
    // The first record goes alone; the 39 queued behind it go out together.
    assert.ok(stamps.size <= 3, `40 entries took ${stamps.size} commits`);
  });
});

Deno.test("two isolates appending to the same KV (separate handles) never fork the chain", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit_isolates_" });
  const path = `${dir}/kv.sqlite3`;
  const kvA = await Deno.openKv(path);
  const kvB = await Deno.openKv(path);
  try {
    const deps = (kv: Deno.Kv): Deps => auditDeps(kv, path);
    const depsA = deps(kvA);
    const services = [createAuditService(depsA), createAuditService(deps(kvB))];
    const writers = 16;
    await Promise.all(Array.from({ length: writers }, async (_, i) => {
      const audit = services[i % 2];
      for (let round = 0; round < 5; round++) {
        if (round % 2 === 0) {
          await audit.record(writer(i), { action: "a.record", target: null, result: "ok" });
        } else {
          await audit.commit(writer(i), (op) => {
            op.set(["touched", i, round], true);
            return Promise.resolve({
              value: null,
              audit: [{ action: "a.commit", target: null, result: "ok" }],
            });
          });
        }
      }
    }));
    await assertChainIsLinear(kvA, writers * 5);
    const verified = await verifyAuditChain(depsA);
    assert.equal(verified.ok, true);
    assert.equal(verified.entries, writers * 5);
  } finally {
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});
