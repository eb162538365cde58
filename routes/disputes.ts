/**
 * /disputes (mounted under /api/admin/payments): the dispute workbench. Read
 * (viewer+), notes, assignment, evidence drafts and files (support+), sync
 * (operator+), and the two irreversible steps, submit and accept (operator+,
 * second factor). See the README's "Dispute workbench".
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { showRoute } from "./show_route.ts";
import { assigneeFilter, callContext } from "./context.ts";
import { ADMIN, DISPUTE, idField, ME, STRIPE_DISPUTE } from "../openapi/ids.ts";
import { errorResponses, jsonBody, jsonContent, pageSchema } from "../openapi/schemas.ts";
import type { Services } from "../services/mod.ts";
import { draftTag } from "../services/disputes/mod.ts";
import { ApprovalSchema } from "../openapi/record_schemas.ts";
import {
  DisputeDetailSchema,
  DisputeSchema,
  IdempotencyHeader,
  IdParam,
  ListQuery,
  SyncSummarySchema,
  Text,
} from "./dispute_schemas.ts";
import { evidence, files, submit } from "./dispute_evidence_routes.ts";

const detail200 = { 200: jsonContent(DisputeDetailSchema, "the dispute") };
const tags = ["disputes"];

const list = adminRoute({ permission: "disputes.read" }, {
  method: "get",
  path: "/disputes",
  tags,
  summary: "Disputes, newest first; by deadline with `due_before`",
  request: { query: ListQuery },
  responses: { 200: jsonContent(pageSchema(DisputeSchema, "DisputePage"), "a page") },
});

const show = showRoute({
  permission: "disputes.read",
  path: "/disputes/{id}",
  tags,
  summary: "One dispute: evidence draft, time left, checklist, notes, history",
  params: IdParam,
  item: DisputeDetailSchema,
  found: "the dispute",
});

const patch = adminRoute({ permission: "disputes.assign" }, {
  method: "patch",
  path: "/disputes/{id}",
  tags,
  summary: "Assign a dispute (or `assignee: null` to unassign)",
  description: "Audited `dispute.assign` with the previous assignee. The assignee it already " +
    "has (a second click, a retry) answers the dispute with nothing written.",
  request: {
    params: IdParam,
    body: jsonBody(
      z.object({
        assignee: idField("assignee", [ADMIN, ME]).nullable().openapi({
          description: "an active admin who can work disputes (`adm_…`), `me` for yourself, " +
            "or null to unassign",
          example: "adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
        }),
      }).strict().openapi("DisputeAssignment"),
    ),
  },
  responses: { ...detail200, ...errorResponses("not_found", "conflict") },
});

const notes = adminRoute({
  permission: "disputes.note",
  bodyTooLarge: {
    path: "body.text",
    message: "text takes at most 2,000 characters: shorten the note, or split it into several",
  },
}, {
  method: "post",
  path: "/disputes/{id}/notes",
  tags,
  summary: "Add a note",
  description: "The same text sent again by the same admin within a minute of their last " +
    "change to the dispute (a second click, a retry) answers the dispute with no second note.",
  request: {
    params: IdParam,
    body: jsonBody(
      z.object({
        text: Text("text").openapi({ example: "Customer sent the tracking number by email" }),
      }).strict().openapi("DisputeNoteRequest"),
    ),
  },
  responses: {
    201: jsonContent(DisputeDetailSchema, "noted"),
    ...errorResponses("not_found", "conflict"),
  },
});

const accept = adminRoute({
  permission: "disputes.accept",
  secondFactor: true,
  bodyTooLarge: { path: "body.note", message: "note takes at most 2,000 characters: shorten it" },
}, {
  method: "post",
  path: "/disputes/{id}/accept",
  tags,
  summary: "Accept the dispute (close it at Stripe as lost)",
  description: "At or above `REFUND_APPROVAL_THRESHOLD` (per currency) the accept is a " +
    "`dispute.accept` request in `/api/admin/approvals` (202) that a second person approves; " +
    "so is any accept of a dispute seen before its payment (`customer` null, no card known), " +
    "whose accepts cannot be added up. " +
    "When Stripe's answer to the close is unknown it is also 202, with `approval: null` and " +
    "`dispute.closing.state` `processing`: Stripe's webhook or reconciliation settles it. " +
    "While a `dispute.accept` request waits, an accept by anyone is 409 naming it, and after " +
    "a close went ahead 409 naming who accepted it and when, except the same operator's same " +
    "accept sent again (a second click: same note), which answers what the first did (the " +
    "close, or the request waiting) with nothing written. " +
    "The same `Idempotency-Key` and body answer the first accept again, as it stands now.",
  request: {
    params: IdParam,
    headers: IdempotencyHeader,
    body: jsonBody(
      z.object({
        note: Text("note").openapi({ example: "Goods not shipped; accepting the loss" }),
      }).strict().openapi("DisputeAccept"),
    ),
  },
  responses: {
    200: jsonContent(DisputeDetailSchema, "closed at Stripe"),
    202: jsonContent(
      z.object({
        approval: ApprovalSchema.nullable().openapi({
          description: "the request waiting for a second person; null when the close was " +
            "sent and Stripe's answer is unknown",
        }),
        dispute: DisputeDetailSchema,
      }).openapi("DisputeAcceptRequested"),
      "waiting in the approvals queue for a second person, or closing with an unknown outcome",
    ),
    ...errorResponses(
      "not_found",
      "conflict",
      "idempotency_key_reused",
      "self_approval_forbidden",
      "stripe_error",
      "stripe_unavailable",
    ),
  },
});

const sync = adminRoute({ permission: "disputes.sync" }, {
  method: "post",
  path: "/disputes/sync",
  tags,
  summary: "Pull disputes from Stripe (all, or `{dispute_id}`); running it twice changes nothing",
  request: {
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.object({
            dispute_id: idField("dispute_id", [DISPUTE, STRIPE_DISPUTE]).optional(),
          }).strict().openapi("DisputeSyncRequest", {
            description: "`{}` pulls every dispute; `{dispute_id}` one, by our id (`dsp_…`) or " +
              "Stripe's (`du_…`). The example's " +
              "`du_Example…` is none of Stripe's: sent as is, it is 404 and reads nothing",
            example: { dispute_id: "du_Example0000000000" },
          }),
        },
      },
    },
  },
  responses: {
    200: jsonContent(SyncSummarySchema, "what was read and changed"),
    ...errorResponses("not_found", "stripe_error", "stripe_unavailable"),
  },
});

export function disputeRoutes(services: Services) {
  const d = services.disputes;
  return createRouter()
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      const due = q.due_before ? Date.parse(q.due_before) : undefined;
      const assignee = assigneeFilter(c, q.assignee);
      const role = callContext(c).actor.role;
      return c.json(await d.list({ ...q, assignee, due_before: due }, role), 200);
    })
    .openapi(sync, async (c) => {
      const body = c.req.valid("json") ?? {};
      return c.json(await d.sync(callContext(c), body.dispute_id), 200);
    })
    .openapi(show, async (c) => {
      // `actions` follow the caller's role: the answer (and its ETag) is theirs (private)
      return c.json(await d.get(c.req.valid("param").id, callContext(c).actor.role), 200);
    })
    .openapi(patch, async (c) => {
      const { id } = c.req.valid("param");
      // `me` is the caller, as in the list's `assignee=me` (README, "API")
      const assignee = c.req.valid("json").assignee;
      const who = assignee === null ? null : assigneeFilter(c, assignee)!;
      return c.json(await d.assign(callContext(c), id, who), 200);
    })
    .openapi(notes, async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await d.addNote(callContext(c), id, c.req.valid("json").text), 201);
    })
    .openapi(evidence, async (c) => {
      const { id } = c.req.valid("param");
      const h = c.req.valid("header");
      const cond = { ifMatch: h["if-match"], ifNoneMatch: h["if-none-match"] };
      const saved = await d.saveEvidence(callContext(c), id, c.req.valid("json"), cond);
      if (saved.draft) c.header("ETag", draftTag(saved.draft.hash));
      return c.json(saved, 200);
    })
    .openapi(files, async (c) => {
      const { id } = c.req.valid("param");
      const form = c.req.valid("form");
      const field = form.evidence_field ?? "uncategorized_file";
      const h = c.req.valid("header");
      const cond = { ifMatch: h["if-match"], ifNoneMatch: h["if-none-match"] };
      const saved = await d.uploadFile(callContext(c), id, form.file, field, cond);
      if (saved.draft) c.header("ETag", draftTag(saved.draft.hash));
      return c.json(saved, 201);
    })
    .openapi(submit, async (c) => {
      const result = await d.submit(callContext(c), c.req.valid("param").id);
      if (result.replayed) c.header("Idempotent-Replayed", "true");
      return result.dispute.submission?.state === "processing"
        ? c.json(result.dispute, 202)
        : c.json(result.dispute, 200);
    })
    .openapi(accept, async (c) => {
      const { id } = c.req.valid("param");
      const out = await d.accept(callContext(c), id, c.req.valid("json").note);
      if (out.replayed) c.header("Idempotent-Replayed", "true");
      return out.kind === "closed"
        ? c.json(out.dispute, 200)
        : c.json({ approval: out.approval, dispute: out.dispute }, 202);
    });
}
