/**
 * Reading a dispute back from Stripe when only Stripe can place a snapshot
 * against the stored one (services/ingest/dispute_snap.ts `disputeAmbiguous`:
 * two snapshots of one second saying different things). The build that met
 * it wrote nothing; the dispute is retrieved, and its answer, made after the
 * stored snapshot, is placed after it and applied instead (README "Dispute
 * workbench": what Stripe owns stays Stripe's own word, in whatever order and
 * timing the answers and webhooks arrive; an older snapshot never moves a
 * dispute back).
 */
import type { Deps } from "../deps.ts";
import type { StripePriority } from "../stripe/mod.ts";
import { stripeAnsweredAt } from "../stripe/mod.ts";
import { defer } from "./commit.ts";
import type { Observation } from "./merge.ts";
import { DisputeReadBack, disputeSnap } from "./dispute_snap.ts";

/** Read-backs before giving up (the job tries again): the dispute kept changing meanwhile. */
const MAX_READ_BACKS = 3;

export interface DisputeReadBackParts {
  deps: Pick<Deps, "stripe">;
  nowSec: () => number;
}

/**
 * Runs `apply`; when it meets a dispute only Stripe can place, reads it back
 * and runs again with the answer in place of the dispute's observation.
 * `atIntake`: no Stripe call may be waited on, the work is deferred instead.
 */
export async function withDisputeReadBack<T>(
  p: DisputeReadBackParts,
  observations: Observation[],
  opts: { eventType: string | null; atIntake: boolean; priority?: StripePriority },
  apply: () => Promise<T>,
): Promise<T> {
  for (let round = 0;; round++) {
    try {
      return await apply();
    } catch (e) {
      if (!(e instanceof DisputeReadBack)) throw e;
      if (opts.atIntake) defer(e.message);
      if (round >= MAX_READ_BACKS) {
        throw new Error(`${e.disputeId} kept changing while it was read back from Stripe`);
      }
      const fresh = await p.deps.stripe.call((s) => s.disputes.retrieve(e.disputeId), {
        label: "disputes.retrieve",
        ...(opts.priority ? { priority: opts.priority } : {}),
      });
      const at = stripeAnsweredAt(fresh) ?? p.nowSec();
      const i = observations.findIndex((o) => o.kind === "dispute" && o.snap.id === e.disputeId);
      // the event's own word on funds moved still counts (merge.ts keeps the larger)
      const snap = disputeSnap(fresh, at, opts.eventType, at);
      const read: Observation = { kind: "dispute", snap, raw: fresh, readAfter: e.seen };
      if (i < 0) observations.push(read);
      else observations[i] = read;
    }
  }
}
