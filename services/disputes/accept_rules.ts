/**
 * When a dispute may be accepted (services/disputes/accept.ts): the refusals,
 * each naming who accepted it and when once a close went ahead, and the same
 * operator's own accept sent again (README, "Dispute workbench", Accepting
 * once), which answers what the first did.
 */
import { byWhom, type CallContext } from "../../domain/actor.ts";
import { acceptsEvidence, type DisputeRecord, isClosedStatus } from "../../domain/dispute.ts";
import type { ApprovalRequest } from "../approvals/mod.ts";
import { getApproval } from "../../kv/approvals.ts";

/**
 * Who accepted it and when, for a close that went ahead ("" when none did); with `ctx`,
 * "you" to the accepter, as a submission names its submitter.
 */
function acceptedBy(r: DisputeRecord, ctx?: CallContext): string {
  const c = r.closing;
  if (!c || c.state === "failed") return "";
  const approved = c.approval_id ? `, approving request ${c.approval_id}` : "";
  const who = ctx
    ? byWhom(c.requested_by, c.requested_at, ctx)
    : `by ${c.requested_by} at ${c.requested_at}`;
  return `accepted ${who}${approved}`;
}

export function acceptRefusal(r: DisputeRecord, ctx?: CallContext): string | null {
  const by = acceptedBy(r, ctx);
  if (isClosedStatus(r.status)) {
    return `the dispute is already closed (${r.status})${by ? `: ${by}` : ""}`;
  }
  if (!acceptsEvidence(r.status)) {
    return `Stripe no longer lets it be closed (${r.status}): the network is deciding`;
  }
  const s = r.submission;
  if (s?.state === "processing") {
    const who = ctx
      ? byWhom(s.requested_by, s.requested_at, ctx)
      : `by ${s.requested_by} at ${s.requested_at}`;
    return `evidence is being submitted at Stripe (submitted ${who}; Stripe's answer, its ` +
      "webhook or reconciliation settles it): try again after; once Stripe takes the " +
      "submission the network decides and the dispute can no longer be accepted, and if " +
      "Stripe refuses it the dispute can be accepted again";
  }
  if (r.closing?.state === "processing") {
    return `it is being closed at Stripe (${by}; Stripe's answer, its webhook or reconciliation ` +
      "settles it)";
  }
  return null;
}

/**
 * This operator's own accept of `note` that went ahead (a close at Stripe, in
 * flight or done) or waits in the queue: sent again (a second click, a retry
 * without a key, a burst), it answers that, with nothing written (README,
 * "Dispute workbench", Accepting once).
 */
export async function sameAccept(
  kv: Deno.Kv,
  r: DisputeRecord,
  ctx: CallContext,
  note: string,
  now: number,
): Promise<{ again: "closing" } | { again: "waiting"; approval: ApprovalRequest } | null> {
  const c = r.closing;
  if (c && c.state !== "failed" && !c.approval_id && c.requested_by === ctx.actor.id) {
    const decision = r.history.findLast((h) =>
      h.action === "accept" && h.by === c.requested_by && h.at === c.requested_at
    );
    if (decision?.changes?.note === note) return { again: "closing" };
    return null;
  }
  const q = r.accept_request;
  if (!c && q?.approval_id && q.requested_by === ctx.actor.id && q.note === note) {
    const approval = (await getApproval(kv, q.approval_id)).value;
    if (approval?.status === "pending" && Date.parse(approval.expires_at) > now) {
      return { again: "waiting", approval };
    }
  }
  return null;
}
