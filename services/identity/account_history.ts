/**
 * A request about an admin account in the account's audit history
 * (`GET /audit-log?target=adm_…`, README "Two-person rules"): the queue's
 * `approval.request`, `.approve`, `.reject`, `.expire` and a failed `.execute` on the `apr_…`
 * request become `user.request`, `user.approve`, … on the account (`payload.admin_id`; a
 * `user.create` request reserves the id its account will have), naming the request
 * (`after.approval_id`, `after.kind`), as a refund's decisions target the refund. An executed
 * request writes the change's own entry (`user.create`, `token.rotate`, …) on the account.
 */
import { historyOn, payloadTarget } from "../approvals/mod.ts";

export const inAccountHistory = historyOn("user.", payloadTarget("admin", "admin_id"));
