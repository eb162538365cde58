/** What the audit chain tests share: a store's deps without Stripe, and the chain's shape. */
import assert from "node:assert/strict";
import { TEST_SIGNING_KEY, type TestApp } from "./app.ts";
import type { CallContext } from "../../domain/actor.ts";
import { parseConfig } from "../../config.ts";
import { ManualClock } from "../../core/clock.ts";
import type { Deps } from "../../services/deps.ts";
import { silentLogger } from "../../core/log.ts";
import { type AuditEntry, GENESIS_HASH } from "../../domain/audit_entry.ts";
import { keys } from "../../kv/keys.ts";

/** Deps on `kv` (opened from `path`) with a manual clock and no Stripe. */
export function auditDeps(kv: Deno.Kv, path = ":memory:"): Deps {
  const config = parseConfig({ KV_PATH: path });
  return {
    kv,
    clock: new ManualClock(),
    stripe: { call: () => Promise.reject(new Error("no Stripe here")) },
    config: { ...config, auditSigningKey: TEST_SIGNING_KEY },
    log: silentLogger(),
  };
}

/** Reads the whole chain and asserts seqs 1..n, each linked to the one before, one entry per seq. */
export async function assertChainIsLinear(kv: Deno.Kv, n: number): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  for await (const row of kv.list<AuditEntry>({ prefix: keys.auditEntriesPrefix() })) {
    entries.push(row.value);
  }
  assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: n }, (_, i) => i + 1));
  let prev = GENESIS_HASH;
  for (const e of entries) {
    assert.equal(e.prev_hash, prev, `entry ${e.seq} links to ${e.seq - 1}`);
    prev = e.hash;
  }
  const head = (await kv.get<{ seq: number; hash: string }>(keys.auditHead())).value;
  assert.deepEqual({ seq: head?.seq, hash: head?.hash }, { seq: n, hash: prev });
  return entries;
}

/** Two handles on one temporary KV file (two isolates sharing a store), closed and removed after. */
export async function withTwoHandles(
  fn: (kvA: Deno.Kv, kvB: Deno.Kv, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "audit_handles_" });
  const path = `${dir}/kv.sqlite3`;
  const kvA = await Deno.openKv(path);
  const kvB = await Deno.openKv(path);
  try {
    await fn(kvA, kvB, path);
  } finally {
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The admin the chain tests record as. */
export const AUDIT_TEST_CTX: CallContext = {
  actor: { type: "admin", id: "adm_alice", role: "admin" },
  request: { request_id: "req_audit", ip: "198.51.100.1", user_agent: "test" },
  second_factor: true,
};

/** `n` refund.create entries (targets rfd_0 … rfd_<n-1>), a second apart on the test clock. */
export async function addRefundEntries(t: TestApp, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await t.services.audit.record(AUDIT_TEST_CTX, {
      action: "refund.create",
      target: { type: "refund", id: `rfd_${i}` },
      result: "ok",
    });
    t.clock.advance(1000);
  }
}
