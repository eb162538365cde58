/**
 * A `dispute.accept` request in the dispute's audit history
 * (`GET /audit-log?target=dsp_…`, README "Dispute workbench"): the queue's
 * `approval.request`, `.approve`, `.reject`, `.expire` and a failed `.execute`
 * on the `apr_…` request become `dispute.accept_request`, `dispute.accept_approve`, … on the
 * dispute, naming the request (`after.approval_id`), as a refund's decisions
 * target the refund. An executed accept is the dispute's own `dispute.accept`.
 */
import { historyOn, payloadTarget } from "../approvals/mod.ts";

export const inAcceptHistory = historyOn("dispute.accept_", payloadTarget("dispute", "dispute_id"));
