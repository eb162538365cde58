/**
 * The refusal of an approval whose `approval_hash` is not the hash of what it approves (mistyped,
 * copied from another request or refund) while that is unchanged. One wording for every route
 * that takes an `approval_hash`: a refund's own approve route and the approvals queue (refunds,
 * accounts, disputes, fraud rules).
 *
 * It never names the right hash: the approver "reads the refund and approves exactly what they
 * read, by its approval.hash" (README, "A first session"; "Two-person rules" for the queue), so a
 * refusal that handed the hash back would let any hash sent first, then the one answered, approve
 * what nobody read. It says where to read the thing again instead.
 */
import { AppError } from "../core/errors.ts";

export interface WrongApprovalHash {
  /** the hash the approver sent (their own input, echoed so they can tell which one it was) */
  sent: string;
  /** what it was sent to approve, in words: `refund rfd_…`, `approval request apr_…` */
  subject: string;
  /** where it is read: `/api/admin/payments/refunds/rfd_…` */
  readPath: string;
  /** the member of that answer that holds the hash: `approval.hash`, `approval_hash` */
  field: string;
  /** more members of the problem document (never the right hash) */
  extra?: Record<string, unknown>;
}

export function wrongApprovalHash(w: WrongApprovalHash): AppError {
  return new AppError(
    "conflict",
    `the approval_hash you sent (${w.sent}) is not the hash of ${w.subject}, which is ` +
      `unchanged: read it again (GET ${w.readPath}) and approve exactly what it shows, by the ` +
      `\`${w.field}\` you read there; nothing was approved`,
    {
      errors: [{
        path: "body.approval_hash",
        message: `not the ${w.field} of ${w.subject}: read it again (GET ${w.readPath})`,
      }],
      ...(w.extra ? { extra: w.extra } : {}),
    },
  );
}
