/** The shapes the approvals queue shares with the domains that register kinds. */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AuditInput, AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { AppError, FieldError } from "../../core/errors.ts";
import type { CursorSealer } from "../../kv/pagination.ts";
import type { ApprovalPolicy, ApprovalRequest } from "../../domain/approval.ts";

/** What a kind does once approved. Returns what to show (never a secret) or nothing. */
export type ApprovalExecutor = (
  deps: Deps,
  request: ApprovalRequest,
  ctx: CallContext,
) => Promise<Record<string, unknown> | void>;

/** A kind whose requests live in their own domain (refunds awaiting approval). */
export interface ApprovalSource {
  /** ids of this source start with it (`rfd_`) */
  idPrefix: string;
  /** its open requests, newest first: those past `expires_at` too (listed as expired) */
  pending(limit: number): Promise<ApprovalRequest[]>;
  /** one of its requests, waiting or decided (`GET /approvals/{id}`); null when not one */
  one(id: string): Promise<ApprovalRequest | null>;
  /**
   * what an approval's body lacks by this source's own rules (a refund's `approval_hash`),
   * asked before a second factor is spent; `approve` refuses the same itself
   */
  approveBodyErrors?(id: string, body: DecisionBody): FieldError[];
  /** decides; deciding again what `ctx` decided answers it (`replayed: true`) */
  approve(ctx: CallContext, id: string, body: DecisionBody): Promise<SourceDecision>;
  reject(ctx: CallContext, id: string, body: DecisionBody): Promise<SourceDecision>;
}

/** A source's own answer to a decision. */
export interface SourceDecision {
  outcome: unknown;
  replayed: boolean;
}

export interface KindRegistration {
  /** overrides of the table's entry (a longer TTL, say); the approver permission stays */
  policy?: Partial<Pick<ApprovalPolicy, "ttlMs">>;
  execute?: ApprovalExecutor;
  /**
   * Why a pending request can no longer be carried out as asked, checked before an approval is
   * claimed (a credential reset that would now leave its account with neither factor): the
   * approval is refused with this error and the request ends expired. `execute` still
   * re-checks where it acts.
   */
  refuseApproval?: (request: ApprovalRequest) => Promise<AppError | null>;
  source?: ApprovalSource;
  /**
   * The entry that also puts a step of one of this kind's requests in the history of what it
   * acts on (a fraud rule's `fraud_rule.approve`, target the rule), as a refund's decisions
   * target the refund; null for none. Given each entry the queue writes about the request
   * after asking (`approval.approve`, `.reject`, `.execute`, `.expire`, denied ones too), it
   * joins that entry's commit.
   */
  history?: (request: ApprovalRequest, entry: AuditInput) => AuditInput | null;
}

export interface RequestOptions {
  /** one line for the approver: "accept dispute dsp_… (75,000 usd)" */
  summary: string;
  /** what the action changes; when it is an admin, that admin cannot approve */
  target?: { type: string; id: string } | null;
}

export interface DecisionBody {
  approval_hash?: string;
  note?: string;
}

export interface DecisionResult {
  request: ApprovalRequest | null;
  /** a source's own answer (the refund) */
  outcome?: unknown;
  /** this call found the decision already made by the same person */
  replayed: boolean;
}

export interface ApprovalServices {
  audit: AuditService;
  newId: IdFactory;
  cursors: CursorSealer;
}
