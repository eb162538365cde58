import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { CallContext } from "../domain/actor.ts";
import { entryHash, SNAPSHOT_MAX_CHARS } from "../services/audit/entry.ts";
import { canonicalJson } from "../core/encoding.ts";
import { type AuditEntry, GENESIS_HASH } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";
import { AppError } from "../core/errors.ts";
import { COMMIT_MAX_ENTRIES } from "../services/audit/append.ts";

const admin: CallContext = {
  actor: { type: "admin", id: "adm_alice", role: "operator" },
  request: { request_id: "req_1", ip: "203.0.113.9", user_agent: "curl/8" },
  second_factor: true,
  idempotency_key: "idem-1",
};

async function entry(kv: Deno.Kv, seq: number): Promise<AuditEntry> {
  const e = (await kv.get<AuditEntry>(keys.auditEntry(seq))).value;
  assert.ok(e, `entry ${seq} exists`);
  return e;
}

Deno.test("canonicalJson sorts keys at every level and drops undefined members", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, u: undefined }),
    '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ x: "é\n" }), '{"x":"é\\n"}');
});

Deno.test("audit.record() starts the chain at the genesis hash and links each entry to the previous", async () => {
  await withTestApp(async (t) => {
    await t.services.audit.record(admin, {
      action: "refund.create",
      target: { type: "refund", id: "rfd_1" },
      result: "ok",
      after: { amount: 500 },
      reason: "requested_by_customer",
      stripe: { request_id: "req_stripe_1", idempotency_key: "rfd_1-create" },
    });
    t.clock.advance(1000);
    await t.services.audit.record(admin, {
      action: "auth.otp_failed",
      target: null,
      result: "denied",
    });
    const first = await entry(t.kv, 1);
    const second = await entry(t.kv, 2);
    assert.equal(first.prev_hash, GENESIS_HASH);
    assert.equal(first.hash, await entryHash(first));
    assert.match(first.hash, /^[0-9a-f]{64}$/);
    assert.equal(second.prev_hash, first.hash);
    assert.equal(second.hash, await entryHash(second));
    assert.match(first.id, /^aud_[0-9A-Z]{26}$/);
    assert.equal(second.at - first.at, 1000);
    assert.equal(first.at_iso, new Date(first.at).toISOString());
    assert.deepEqual(first.actor, { type: "admin", id: "adm_alice", role: "operator" });
    assert.deepEqual(first.target, { type: "refund", id: "rfd_1" });
    assert.equal(first.result, "ok");
    assert.equal(first.second_factor, true);
    assert.equal(first.request_id, "req_1");
    assert.equal(first.ip, "203.0.113.9");
    assert.equal(first.user_agent, "curl/8");
    assert.equal(first.idempotency_key, "idem-1");
    assert.equal(first.stripe_request_id, "req_stripe_1");
    assert.equal(first.stripe_idempotency_key, "rfd_1-create");
    assert.deepEqual((await t.kv.get(keys.auditHead())).value, {
      seq: 2,
      hash: second.hash,
      at: second.at,
    });
    // The hash covers prev_hash: the same content after another entry hashes differently.
    assert.notEqual(await entryHash({ ...first, prev_hash: second.hash }), first.hash);
  });
});

Deno.test("audit entries keep time non-decreasing even when the clock goes back", async () => {
  await withTestApp(async (t) => {
    await t.services.audit.record(admin, { action: "a.b", target: null, result: "ok" });
    t.clock.advance(-60_000);
    await t.services.audit.record(admin, { action: "a.b", target: null, result: "ok" });
    assert.equal((await entry(t.kv, 2)).at, (await entry(t.kv, 1)).at);
  });
});

Deno.test("audit.commit() writes the change and its entries in one commit and returns the value", async () => {
  await withTestApp(async (t) => {
    const value = await t.services.audit.commit(admin, async (op) => {
      const current = await t.kv.get<number>(["balance"]);
      op.check(current).set(["balance"], (current.value ?? 0) + 5);
      return {
        value: "done",
        audit: [
          { action: "balance.add", target: { type: "balance", id: "b1" }, result: "ok", after: 5 },
          { action: "balance.note", target: null, result: "ok", reason: "two entries" },
        ],
      };
    });
    assert.equal(value, "done");
    const e1 = (await t.kv.get(keys.auditEntry(1))).versionstamp;
    const e2 = (await t.kv.get(keys.auditEntry(2))).versionstamp;
    const bal = await t.kv.get<number>(["balance"]);
    assert.equal(bal.value, 5);
    assert.equal(e1, bal.versionstamp);
    assert.equal(e2, bal.versionstamp);
    assert.equal((await entry(t.kv, 2)).prev_hash, (await entry(t.kv, 1)).hash);
  });
});

Deno.test("audit.commit() writes nothing when build throws", async () => {
  await withTestApp(async (t) => {
    await assert.rejects(
      t.services.audit.commit(admin, (op) => {
        op.set(["balance"], 1);
        throw new AppError("amount_exceeds_refundable", "too much");
      }),
      (e: unknown) => e instanceof AppError && e.code === "amount_exceeds_refundable",
    );
    assert.equal((await t.kv.get(["balance"])).value, null);
    assert.equal((await t.kv.get(keys.auditHead())).value, null);
    // The queue is not stuck after a failure.
    await t.services.audit.record(admin, { action: "a.b", target: null, result: "ok" });
    assert.equal((await entry(t.kv, 1)).action, "a.b");
  });
});

Deno.test("audit.commit() refuses a change that would append more entries than one KV commit holds", async () => {
  await withTestApp(async (t) => {
    await assert.rejects(
      t.services.audit.commit(admin, (op) => {
        op.set(["bulk"], 1);
        const audit = Array.from({ length: COMMIT_MAX_ENTRIES + 1 }, () => ({
          action: "bulk.item",
          target: null,
          result: "ok" as const,
        }));
        return Promise.resolve({ value: null, audit });
      }),
      /at most 150 entries/,
    );
    assert.equal((await t.kv.get(["bulk"])).value, null);
    assert.equal((await t.kv.get(keys.auditHead())).value, null);
  });
});

Deno.test("audit.commit() runs build again from scratch after its own check loses a race", async () => {
  await withTestApp(async (t) => {
    await t.services.audit.record(admin, { action: "first", target: null, result: "ok" });
    let runs = 0;
    await t.services.audit.commit(admin, async (op) => {
      runs++;
      const thing = await t.kv.get<number>(["thing"]);
      // Another request changes the record between our read and our commit.
      if (runs === 1) await t.kv.set(["thing"], 100);
      op.check(thing).set(["thing"], (thing.value ?? 0) + 1);
      return { value: null, audit: [{ action: "thing.set", target: null, result: "ok" }] };
    });
    assert.equal(runs, 2);
    assert.equal((await t.kv.get(["thing"])).value, 101);
    assert.equal((await entry(t.kv, 2)).action, "thing.set");
    assert.equal((await t.kv.get(keys.auditEntry(3))).value, null);
    assert.equal((await t.services.audit.verify()).ok, true);
  });
});

Deno.test("audit entries mask secrets, tokens, TOTP and card data, and part of emails", async () => {
  await withTestApp(async (t) => {
    await t.services.audit.record(admin, {
      action: "user.update",
      target: { type: "admin", id: "adm_bob" },
      result: "ok",
      before: { email: "bob@example.com", token_hash: "abc", totp_secret: "JBSWY3DP" },
      after: {
        email: "robert@example.com",
        nested: { api_key: "k", card: "4242 4242 4242 4242", recovery_codes: ["1", "2"] },
        note: "key sk_live_abcdef123456 leaked",
      },
      reason: "changed by bob@example.com",
    });
    const e = await entry(t.kv, 1);
    assert.deepEqual(e.before, {
      email: "b***@example.com",
      token_hash: "****",
      totp_secret: "****",
    });
    assert.deepEqual(e.after, {
      email: "r***@example.com",
      nested: { api_key: "****", card: "****4242", recovery_codes: "****" },
      note: "key sk_live_**** leaked",
    });
    assert.equal(e.reason, "changed by b***@example.com");
  });
});

Deno.test("audit entries truncate huge before/after with a marker and stay under KV's 64 KiB", async () => {
  await withTestApp(async (t) => {
    const huge = {
      blob: "x".repeat(1_000_000),
      list: Array.from({ length: 20_000 }, (_, i) => i + 0.5),
    };
    // A burst of large entries must still batch under KV's 800 KiB per commit.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        t.services.audit.record(admin, {
          action: "blob.save",
          target: { type: "blob", id: `b${i}` },
          result: "ok",
          before: huge,
          after: { list: huge.list },
          reason: "r".repeat(50_000),
        })),
    );
    const e = await entry(t.kv, 40);
    const after = e.after as { _truncated: boolean; original_chars: number; preview: string };
    assert.equal(after._truncated, true);
    assert.ok(after.original_chars > SNAPSHOT_MAX_CHARS);
    assert.ok(after.preview.length <= SNAPSHOT_MAX_CHARS);
    assert.ok(e.reason!.length < 2100);
    assert.equal(e.hash, await entryHash(e));
    assert.equal((await t.services.audit.verify()).ok, true);
  });
});
