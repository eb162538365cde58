/**
 * /refunds/{id}/approve and /reject (mounted under /api/admin/payments, after
 * routes/refunds.ts): the second person's decision on a refund awaiting
 * approval. A decision the approver had already made, answered again, carries
 * `Idempotent-Replayed: true` (README, "Two-person rules").
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { callContext } from "./context.ts";
import {
  errorResponses,
  jsonBody,
  jsonContent,
  REFUND_SEND_REFUSALS,
  requiredApprovalHashField,
} from "../openapi/schemas.ts";
import { RefundDetailSchema } from "../openapi/record_schemas.ts";
import { approvalHashRequired, isUndecided } from "../services/refunds/mod.ts";
import type { Services } from "../services/mod.ts";
import { IdempotencyHeader, IdParam, markReplay, Note } from "./refunds.ts";

const approve = adminRoute({ permission: "refunds.approve", secondFactor: true }, {
  method: "post",
  path: "/refunds/{id}/approve",
  tags: ["refunds"],
  summary: "Approve a refund awaiting approval (not your own) and send it",
  description: "Approving again a refund you already approved answers it as it stands now " +
    "(200, or 202 while Stripe's outcome is unknown) with `Idempotent-Replayed: true`, as " +
    "`POST /approvals/{id}/approve` answers `replayed: true`: nothing is sent again. A refund " +
    "someone else decided, or that you rejected, is 409. `approval_hash` is required: read the " +
    "refund first and send its `approval.hash`; without it (`{}`, or no body) the answer is 422 " +
    "on `body.approval_hash` and nothing is decided.",
  request: {
    params: IdParam,
    headers: IdempotencyHeader,
    // required (README, "A first session"): you approve exactly the refund you read
    body: jsonBody(
      z.object({
        note: Note.optional(),
        approval_hash: requiredApprovalHashField(
          "the refund's `approval.hash` as GET /api/admin/payments/refunds/{id} shows it",
          "required: the `approval.hash` of the refund as you read it " +
            "(GET /api/admin/payments/refunds/{id}); " +
            "refused (409) if the refund differs",
          approvalHashRequired().message,
        ),
      }).strict().openapi("RefundApproval", {
        example: { note: "checked with the customer", approval_hash: "9f2c4e1a".repeat(8) },
      }),
    ),
  },
  responses: {
    200: jsonContent(RefundDetailSchema, "approved and sent: Stripe answered"),
    202: jsonContent(RefundDetailSchema, "approved and sent; outcome not known yet"),
    ...errorResponses(
      "not_found",
      "conflict",
      "self_approval_forbidden",
      "idempotency_key_reused",
      ...REFUND_SEND_REFUSALS,
    ),
  },
});

const reject = adminRoute({ permission: "refunds.approve" }, {
  method: "post",
  path: "/refunds/{id}/reject",
  tags: ["refunds"],
  summary: "Reject a refund awaiting approval (releases its reservation)",
  description: "Rejecting again a refund you already rejected answers it as it stands (200) " +
    "with `Idempotent-Replayed: true`, as `POST /approvals/{id}/reject` answers " +
    "`replayed: true`. A refund someone else decided, or that you approved, is 409. Whoever " +
    "rejects decides as an approver would: never the requester (a refund is not withdrawn: " +
    "someone else decides it, or it expires unanswered at `approval.expires_at`, its " +
    "reservation released), never an account linked to the requester (403 " +
    "`self_approval_forbidden` with its `rule`, audited `denied`, nothing rejected).",
  request: {
    params: IdParam,
    headers: IdempotencyHeader,
    body: jsonBody(z.object({ note: Note }).strict().openapi("RefundRejection")),
  },
  responses: {
    200: jsonContent(RefundDetailSchema, "rejected"),
    ...errorResponses("not_found", "conflict", "self_approval_forbidden", "idempotency_key_reused"),
  },
});

export function refundDecisionRoutes(services: Services) {
  return createRouter()
    .openapi(approve, async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const result = await services.refunds.approve(callContext(c), id, body);
      markReplay(c, result);
      return isUndecided(result.refund.status)
        ? c.json(result.refund, 202)
        : c.json(result.refund, 200);
    })
    .openapi(reject, async (c) => {
      const { id } = c.req.valid("param");
      const result = await services.refunds.reject(
        callContext(c),
        id,
        c.req.valid("json"),
      );
      markReplay(c, result);
      return c.json(result.refund, 200);
    });
}
