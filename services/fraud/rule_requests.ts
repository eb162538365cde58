/**
 * A rule change that waits for a second admin (disabling, shadow mode,
 * loosening) waits one at a time per rule (README "Fraud detection",
 * Tuning): each request names the version it was judged against, and the
 * first approved makes a new version, so of two waiting at once at most one
 * could ever execute. The same change sent again by its requester (a second
 * click) answers the one waiting, nothing written; another while one waits is
 * 409 naming it, who asked and when (audited `denied`); one that names an
 * older version, or has expired, holds nothing up.
 *
 * The rule's audit history (`GET /audit-log?target=<rule>`) holds each request
 * and what became of it, beside the queue's entries on the `apr_…` request, as
 * a refund's approval and rejection target the refund (README "Fraud
 * detection", Tuning).
 */
import type { AuditService } from "../audit/mod.ts";
import { type ApprovalService, historyOn, payloadTarget } from "../approvals/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import {
  type ApprovalRequest,
  sameRequestAgain,
  waitingRequestWords,
} from "../../domain/approval.ts";
import type { RuleName } from "../../domain/fraud.ts";
import type { RuleApprovalKind, RulePatch } from "./rule_admin.ts";
import { AppError } from "../../core/errors.ts";
import { keys } from "../../kv/keys.ts";
import { getApproval } from "../../kv/approvals.ts";
import { auditRefusal } from "./denied.ts";

/** The index outlives its request's 24 h by an hour; the request's `expires_at` is what counts. */
const INDEX_MARGIN_MS = 3600_000;

export interface RuleRequestParts {
  kv: Deno.Kv;
  now: () => number;
  audit: AuditService;
  approvals: ApprovalService;
}

/** Queues `kind` for `rule` unless a request for it still waits (409 naming that one). */
export function requestRuleChangeOnce(
  p: RuleRequestParts,
  ctx: CallContext,
  kind: RuleApprovalKind,
  change: { rule: RuleName; patch: RulePatch; base_version: number },
  summary: string,
): Promise<ApprovalRequest> {
  const entry = {
    action: "fraud_rule.update",
    target: { type: "fraud_rule", id: change.rule },
    after: { kind, patch: change.patch, base_version: change.base_version },
  };
  return auditRefusal(p.audit, ctx, entry, () =>
    p.audit.commit(ctx, async (op) => {
      const index = await p.kv.get<string>(keys.fraudRuleRequest(change.rule));
      const earlier = index.value ? (await getApproval(p.kv, index.value)).value : null;
      if (
        earlier?.status === "pending" && Date.parse(earlier.expires_at) > p.now() &&
        (earlier.payload as { base_version?: number }).base_version === change.base_version
      ) {
        // the same change sent again by its requester (a second click): answered, nothing written
        if (sameRequestAgain(earlier, ctx, kind, change)) return { value: earlier, audit: [] };
        throw new AppError(
          "conflict",
          `a change of fraud rule ${change.rule} already waits for a second admin ` +
            `(${waitingRequestWords(earlier, ctx)}); approve or reject ` +
            `it in /api/admin/approvals first (its requester may reject it to withdraw it)`,
          { extra: { approval_id: earlier.id } },
        );
      }
      const { request, audit } = p.approvals.addRequest(op, kind, change, ctx, {
        summary,
        target: { type: "fraud_rule", id: change.rule },
      });
      const ttl = Date.parse(request.expires_at) - p.now() + INDEX_MARGIN_MS;
      op.check(index).set(keys.fraudRuleRequest(change.rule), request.id, { expireIn: ttl });
      // the request's own entry targets it (`apr_…`); this one puts it in the rule's history
      // (`GET /audit-log?target=<rule>`, README "Fraud detection", Tuning)
      const inRuleHistory = {
        action: "fraud_rule.request",
        target: { type: "fraud_rule", id: change.rule },
        result: "ok" as const,
        after: { approval_id: request.id, kind, ...change },
      };
      return { value: request, audit: [audit, inRuleHistory] };
    }));
}

/**
 * The rule's entry for a step of a request about it (`KindRegistration.history`):
 * `approval.approve` becomes `fraud_rule.approve` on the rule, and so `.reject`,
 * `.expire` and a failed `.execute` (an executed one made a version, audited
 * `fraud_rule.update` on the rule), each naming the request (`after.approval_id`).
 */
export const inRuleHistory = historyOn("fraud_rule.", payloadTarget("fraud_rule", "rule"));
