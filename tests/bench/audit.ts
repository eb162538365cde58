/**
 * Audit appends/s with 16 concurrent writers calling `services.audit.record`,
 * against raw hot-key OCC commits/s; then the chain is checked end to end
 * (seq 1..N with no gap, each `prev_hash` the previous `hash`, each hash
 * recomputed, the head on the last entry: `verifyAuditChain`). A broken
 * chain throws: the run reports it as a failure, not a figure.
 */
import { HOT_KEY_WRITERS } from "./baseline_kv.ts";
import { createBenchApp } from "./bench_app.ts";
import { type BenchContext, type FigureBench, progress, runFor, withTempKv } from "./support.ts";
import type { CallContext } from "../../domain/actor.ts";
import { verifyAuditChain } from "../../services/audit/verify_chain.ts";

export const auditBench: FigureBench = {
  name: "audit appends",
  figures: ["audit_appends_per_s", "audit_ratio"],
  async run(ctx: BenchContext) {
    return await withTempKv(async (kv) => {
      const { services, deps } = createBenchApp(kv);
      const writers = HOT_KEY_WRITERS;
      const r = await runFor(ctx.sizes.durationS, writers, async (loop, i) => {
        await services.audit.record(adminContext(loop, i), {
          action: "refund.create",
          target: { type: "refund", id: `rfd_bench${loop}_${i}` },
          result: "ok",
          after: { amount: 1200 + i, currency: "usd", status: "processing" },
          reason: "requested_by_customer",
          stripe: { idempotency_key: `bench-${loop}-${i}` },
        });
        return 1;
      });
      progress(`  ${r.ops} entries appended; verifying the chain`);
      // Every append that resolved must be in the chain, linked, with no gap or fork.
      const chain = await verifyAuditChain(deps);
      if (!chain.ok || chain.entries !== r.ops || chain.head.seq !== r.ops) {
        throw new Error(
          `AUDIT CHAIN BROKEN after ${r.ops} appends: ${JSON.stringify(chain)}`,
        );
      }
      return {
        figures: {
          audit_appends_per_s: r.perS,
          audit_ratio: r.perS / ctx.baselines.hot_key_commits_per_s,
        },
        notes: `${writers} writers calling services.audit.record, ${r.ops} entries, ` +
          "verifyAuditChain: ok",
      };
    });
  },
};

function adminContext(loop: number, i: number): CallContext {
  return {
    actor: { type: "admin", id: `adm_bench${String(loop).padStart(2, "0")}`, role: "operator" },
    request: { request_id: `req_bench_${loop}_${i}`, ip: "127.0.0.1", user_agent: "bench" },
    second_factor: true,
  };
}
