/**
 * /api/admin/approvals: every two-person request in one queue (README,
 * "Two-person rules"). Approving needs a second factor and is refused (and
 * audited) for the requester, the admin acted on, and accounts linked to
 * either; refunds awaiting approval are listed here too and decided through
 * the refund service.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { showRoute } from "./show_route.ts";
import { listRoute } from "./list_route.ts";
import { callContext } from "./context.ts";
import { errorResponses, jsonContent, orNull, REFUND_SEND_REFUSALS } from "../openapi/schemas.ts";
import { ApprovalSchema } from "../openapi/record_schemas.ts";
import { approvalHashField, oneOf, queryParam, typedText } from "../openapi/schemas.ts";
import type { Services } from "../services/mod.ts";
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import { jsonBodyOf } from "./body_gate.ts";
import { APPROVAL, idPath, REFUND } from "../openapi/ids.ts";

import { APPROVAL_POLICY, APPROVAL_STATUSES } from "../domain/approval.ts";

const KINDS = Object.keys(APPROVAL_POLICY) as [string, ...string[]];

/**
 * A decision on a refund (`rfd_…`) here is the refund's own decision route's request (README "A
 * first session": approve on the refund's route and the approvals queue's): the same key scope,
 * replayed with `Idempotent-Replayed: true` on either path.
 */
function idempotencyHeader(decision: "approve" | "reject") {
  return z.object({
    "idempotency-key": z.string().min(1, "Idempotency-Key must be 1 to 255 characters")
      .max(255, "Idempotency-Key must be 1 to 255 characters").optional().openapi({
        param: { name: "idempotency-key", in: "header" },
        description: `for a refund (\`rfd_…\`), as on \`POST /refunds/{id}/${decision}\`, and ` +
          "one request with it: the same key and body sent on either path replays the first " +
          "answer (`Idempotent-Replayed: true`; a refund `processing` in it as it stands), " +
          "another body is 422 `idempotency_key_reused`. Not kept for a two-person request " +
          "(`apr_…`): deciding it again answers `replayed: true` anyway",
      }),
  });
}

const DecisionSchema = z.object({
  approval: orNull(ApprovalSchema),
  outcome: z.unknown().openapi({ description: "a refund's own answer (refund approvals)" }),
  replayed: z.boolean().openapi({ description: "you had already made this decision" }),
}).openapi("ApprovalDecision");

// README "Two-person rules": the queue holds two-person requests (`apr_…`) and refunds awaiting
// approval, under the refund's own id (`rfd_…`)
const IdParam = idPath([APPROVAL, REFUND], "apr_01JD3Y8Z6QKQ2X5N7S9V4W1T0R");

// an empty note is none; a typed one is plain text and masked, as every note (README "Security")
const noteField = typedText(
  z.string().trim().max(500, "note must be at most 500 characters"),
  "note",
)
  .optional();

const list = listRoute({
  permission: "approvals.read",
  path: "/approvals",
  tags: ["approvals"],
  summary: "Two-person requests, newest first (default: pending)",
  filters: {
    status: oneOf("status", APPROVAL_STATUSES).default("pending").openapi(queryParam("status")),
    kind: oneOf("kind", KINDS).optional().openapi(queryParam("kind")),
  },
  item: ApprovalSchema,
  pageName: "ApprovalPage",
});

const show = showRoute({
  permission: "approvals.read",
  path: "/approvals/{id}",
  tags: ["approvals"],
  summary: "One two-person request (a refund's `rfd_…` too, waiting or decided)",
  params: IdParam,
  item: ApprovalSchema,
  found: "the request",
});

/**
 * A refund approved here needs its `approval_hash`, as on its own route (README, "Two-person
 * rules"): asked of the body before the second factor is spent, as the schemas are.
 */
async function approvalBodyErrors(c: Context<AppEnv>) {
  const body = (await jsonBodyOf(c) ?? {}) as { approval_hash?: string };
  return c.get("services").approvals.approveBodyErrors(c.req.param("id") ?? "", body);
}

const approve = adminRoute({
  permission: "approvals.decide",
  secondFactor: true,
  check: approvalBodyErrors,
}, {
  method: "post",
  path: "/approvals/{id}/approve",
  tags: ["approvals"],
  summary: "Approve a request (not yours, not about you, not a linked account's)",
  description: "The action runs once, as you. Approving again what you already approved " +
    "answers the same decision (`replayed: true`). A refund (`rfd_…`) approved here is sent " +
    "as `POST /refunds/{id}/approve` sends it, with the same refusals (Stripe's among them), " +
    "and needs its `approval_hash` as that route does: without it (`{}`, or no body) the " +
    "answer is 422 on `body.approval_hash` and nothing is decided. For the other kinds " +
    "`approval_hash` is optional.",
  request: {
    params: IdParam,
    headers: idempotencyHeader("approve"),
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.object({
            approval_hash: approvalHashField(
              "the request's `approval_hash` as GET /api/admin/approvals shows it",
              "the `approval_hash` you reviewed: refused (409) if the request differs; " +
                "required for a refund (`rfd_…`)",
            ),
            note: noteField,
          }).strict().openapi({ example: { note: "Checked with the requester" } }),
        },
      },
    },
  },
  responses: {
    200: jsonContent(DecisionSchema, "approved (and executed, or failed: see `status`)"),
    202: jsonContent(DecisionSchema, "approved; the outcome is still being settled"),
    ...errorResponses(
      "not_found",
      "conflict",
      "self_approval_forbidden",
      "idempotency_key_reused",
      ...REFUND_SEND_REFUSALS,
    ),
  },
});

const reject = adminRoute({ permission: "approvals.decide" }, {
  method: "post",
  path: "/approvals/{id}/reject",
  tags: ["approvals"],
  summary: "Close a request without doing it",
  description: "`note` is optional, but a refund (`rfd_…`) needs a `note` (1 to 500 " +
    "characters), as `POST /refunds/{id}/reject` does: the refund keeps why it was refused " +
    "(422 on `body.note` without one). Rejecting again what you already rejected answers the " +
    "same decision (`replayed: true`). The requester withdraws their own request, but not a " +
    "refund (`rfd_…`): its requester may not reject it, as on `POST /refunds/{id}/reject`, " +
    "and it expires unanswered at its deadline unless someone else decides it. Anyone else " +
    "decides as an approver would: never the admin the request acts on, nor an account " +
    "linked to it or to the requester (403 `self_approval_forbidden`).",
  request: {
    params: IdParam,
    headers: idempotencyHeader("reject"),
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.object({ note: noteField }).strict().openapi({
            example: { note: "Not needed any more" },
          }),
        },
      },
    },
  },
  responses: {
    200: jsonContent(DecisionSchema, "rejected"),
    ...errorResponses("not_found", "conflict", "self_approval_forbidden", "idempotency_key_reused"),
  },
});

/**
 * A refund's decision answered again (the key's first answer, or a decision you had made)
 * carries `Idempotent-Replayed: true`, as on the refund's own route; a two-person request's
 * says so in `replayed` alone.
 */
function markSourceReplay(c: Context<AppEnv>, r: { outcome?: unknown; replayed: boolean }) {
  if (r.replayed && r.outcome !== undefined) c.header("Idempotent-Replayed", "true");
}

/** The JSON body if one was sent (these routes accept none too). */
function bodyOf<T>(valid: () => T): T | Record<string, never> {
  try {
    return valid() ?? {};
  } catch {
    return {};
  }
}

export function approvalRoutes(services: Services) {
  const approvals = services.approvals;
  return createRouter()
    .openapi(list, async (c) => c.json(await approvals.list(c.req.valid("query")), 200))
    .openapi(show, async (c) => c.json(await approvals.get(c.req.valid("param").id), 200))
    .openapi(approve, async (c) => {
      const body = bodyOf(() => c.req.valid("json"));
      const r = await approvals.approve(callContext(c), c.req.valid("param").id, body);
      const pending = (r.outcome as { status?: string } | undefined)?.status === "processing";
      const answer = { approval: r.request, outcome: r.outcome ?? null, replayed: r.replayed };
      if (r.request?.handover) c.header("Cache-Control", "no-store");
      markSourceReplay(c, r);
      return pending ? c.json(answer, 202) : c.json(answer, 200);
    })
    .openapi(reject, async (c) => {
      const body = bodyOf(() => c.req.valid("json"));
      const r = await approvals.reject(callContext(c), c.req.valid("param").id, body);
      markSourceReplay(c, r);
      return c.json({ approval: r.request, outcome: r.outcome ?? null, replayed: r.replayed }, 200);
    });
}
