/**
 * /api/admin/users: manage admins and roles (role `admin`; changes need a
 * second factor). No answer carries another person's credentials: accounts
 * enroll themselves with a code; roles that can approve, and another admin's
 * credentials, go through the approvals queue (answer 202).
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { callContext } from "./context.ts";
import {
  CursorQuery,
  DateTimeSchema as DateTime,
  errorResponses,
  jsonBody,
  jsonContent,
  LimitQuery,
  orNull,
  pageSchema,
} from "../openapi/schemas.ts";
import {
  AdminSchema,
  AdminStatusSchema as StatusSchema,
  ApprovalSchema,
  RoleSchema,
} from "../openapi/record_schemas.ts";
import type { Services } from "../services/mod.ts";
import { canonicalEmail } from "../domain/admin.ts";
import { ADMIN, idPath } from "../openapi/ids.ts";

const AccountRequestSchema = z.object({
  admin: orNull(AdminSchema).openapi({
    description: "the account, when it needed no second admin (roles that cannot approve)",
  }),
  approval: orNull(ApprovalSchema).openapi({
    description: "the pending request, for roles that can approve (operator, admin)",
  }),
  enrollment_code: z.string().optional().openapi({
    description:
      "single-use, for a role that cannot approve (201): hand it to the new person, who redeems " +
      "it at POST /api/admin/enroll for their own token and second factor. An operator or admin " +
      "(202) gets no code here: the admin who approves the request receives it (approval.handover)",
  }),
  enrollment_expires_at: DateTime.optional(),
}).openapi("AccountRequest");

const Handover = z.object({
  enrollment_code: z.string().openapi({
    description: "single-use: hand it to the person, who redeems it at POST /api/admin/enroll " +
      "for a new token and second factor",
  }),
  enrollment_expires_at: DateTime,
}).openapi("EnrollmentHandover");

const AdminChangeResult = z.object({
  admin: AdminSchema,
  pending_approval: orNull(ApprovalSchema),
  handover: Handover.optional().openapi({
    description: "once, when this change re-enabled the account at once (one nobody enrolled " +
      "yet, re-enabled by an admin who held its code, or by the CLI): its old token and second " +
      "factor stay revoked and the person enrolls new ones with this code",
  }),
}).openapi("AdminChangeResult");

const IdParam = idPath([ADMIN], "adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R");

const list = adminRoute({ permission: "users.read" }, {
  method: "get",
  path: "/users",
  tags: ["users"],
  summary: "Admins, newest first",
  request: { query: z.object({ limit: LimitQuery, cursor: CursorQuery }) },
  responses: { 200: jsonContent(pageSchema(AdminSchema, "AdminPage"), "a page") },
});

const show = adminRoute({ permission: "users.read" }, {
  method: "get",
  path: "/users/{id}",
  tags: ["users"],
  summary: "One admin",
  request: { params: IdParam },
  responses: {
    200: jsonContent(AdminSchema, "the admin"),
    ...errorResponses("not_found"),
  },
});

const create = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "post",
  path: "/users",
  tags: ["users"],
  summary: "Create an admin: an enrollment code, or for operator or admin a pending request",
  description: "No credentials are returned: the new person redeems an enrollment code at " +
    "`POST /api/admin/enroll`. An account that can approve (operator, admin) waits for a second " +
    "admin: the answer is 202 with the pending request and no code; the approver's answer " +
    "carries the code (`approval.handover`) to hand over.\n\n" +
    "The example asks for an operator at `example.invalid`, a domain that never receives " +
    "mail: sent as is it creates no account, only a request that waits for a second admin " +
    "(202); reject it in `/api/admin/approvals` (it expires by itself after 24 h). Sent again " +
    "by you while it waits (a second click), it answers that request, nothing written; " +
    "another admin's, or another role for the email, is 409 naming who asked and when.",
  request: {
    body: jsonBody(
      z.object({
        // checked here, as the service does, so a typo does not spend the second factor
        email: z.string().max(254).refine((e) => canonicalEmail(e) !== null, {
          message: "must be an email address",
        }).openapi({
          example: "new.person@example.invalid",
          description: "an email address (trimmed, lowercased)",
        }),
        role: RoleSchema.openapi({
          description: "viewer, support, analyst and auditor accounts are made at once (201, " +
            "with an enrollment code); operator and admin wait for a second admin (202)",
          example: "operator",
        }),
      }).strict(),
    ),
  },
  responses: {
    201: jsonContent(AccountRequestSchema, "created; the person enrolls with the code"),
    202: jsonContent(
      AccountRequestSchema,
      "waits for a second admin, whose approval answer carries the enrollment code",
    ),
    ...errorResponses("conflict"),
  },
});

const update = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "patch",
  path: "/users/{id}",
  tags: ["users"],
  summary: "Change an admin's role or status",
  description: "You cannot change your own role or status. A role that can approve " +
    "(operator, admin) needs a second admin, and so does re-enabling a disabled account " +
    "(`user.reactivate`, approved by neither you nor the account nor anyone linked to either) " +
    "that can approve, that its person enrolled (whatever its role), or whose enrollment code " +
    "you never held: the answer is 202 with the pending request and no code. Whether " +
    "re-enabling needs one is judged by the account as it is while disabled, never by a role " +
    "sent with it (change the role of a disabled account only with or after its re-enabling). " +
    "A re-enabled account gets new credentials only: the answer that re-enables it carries an " +
    "enrollment code to hand over, the approver's (`approval.handover`) or, for an account " +
    "nobody enrolled yet that you created (or otherwise held its code), yours, as on " +
    "creation; re-enabling an account its person enrolled raises an `admin_enabled` ops " +
    "alert. Disabling an active admin, or giving it a role that cannot manage accounts, " +
    "is done at once (200, with an ops alert) once in a rolling 24 h for you and the accounts " +
    "linked to you; a further one is a pending `user.disable` / `user.demote` request (202) " +
    "that an admin linked neither to you nor to that admin approves; one that would leave no " +
    "active admin but you and the accounts linked to you is 409 (`rule: last_unlinked_admin`). " +
    "One request of each kind waits per account: the same change sent again by you while " +
    "yours waits (a second click) answers it, nothing written; another is 409 naming who " +
    "asked and when.",
  request: {
    params: IdParam,
    body: jsonBody(
      z.object({ role: RoleSchema.optional(), status: StatusSchema.optional() }).strict()
        .refine((b) => b.role !== undefined || b.status !== undefined, {
          message: "send role and/or status",
        }),
    ),
  },
  responses: {
    200: jsonContent(AdminChangeResult, "changed"),
    202: jsonContent(
      AdminChangeResult,
      "the role, re-enabling the account, or disabling or demoting an admin awaits a second " +
        "admin's approval (whose answer carries any enrollment code)",
    ),
    ...errorResponses("not_found", "conflict"),
  },
});

const credentialResponses = {
  202: jsonContent(
    ApprovalSchema,
    "waits for a third person's approval; the approver receives an enrollment code to hand over",
  ),
  // 409: another's already waits for this account, or it would leave the account with neither
  // factor (`rule: last_factor`), audited denied as every refusal; your own sent again is
  // answered with it (202)
  ...errorResponses("not_found", "conflict"),
};

const rotate = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "post",
  path: "/users/{id}/rotate-token",
  tags: ["users"],
  summary: "Ask to rotate another admin's API token (someone else approves)",
  description: "Once approved, the old token stops at once; the person redeems the enrollment " +
    "code with their own current TOTP code (`X-OTP-Code`) for a new token. Sent again by you " +
    "while yours waits (a second click), it answers that request; another admin's is 409 " +
    "naming who asked and when. While the account has no second factor (a reset's code not " +
    "yet redeemed, say), it is 409 `rule: last_factor`: the account would be left with " +
    "neither factor; the detail names the way out (redeem that code first).",
  request: { params: IdParam },
  responses: credentialResponses,
});

const reset2fa = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "post",
  path: "/users/{id}/reset-2fa",
  tags: ["users"],
  summary: "Ask to reset another admin's second factor (someone else approves)",
  description: "Once approved, the old factor and its step-up tokens stop at once; the person " +
    "redeems the enrollment code with their own token (`Authorization`) for a new TOTP secret " +
    "and recovery codes. Sent again by you while yours waits (a second click), it answers " +
    "that request; another admin's is 409 naming who asked and when. While the account's " +
    "token is revoked (a rotation's code not yet redeemed, say), it is 409 `rule: " +
    "last_factor`: the account would be left with neither factor; the detail names the way " +
    "out (redeem that code first).",
  request: { params: IdParam },
  responses: credentialResponses,
});

export function userRoutes(services: Services) {
  const identity = services.identity;
  return createRouter()
    .openapi(list, async (c) => c.json(await identity.listAdmins(c.req.valid("query")), 200))
    .openapi(show, async (c) => c.json(await identity.getAdmin(c.req.valid("param").id), 200))
    .openapi(create, async (c) => {
      const r = await identity.requestAccount(callContext(c), c.req.valid("json"));
      c.header("Cache-Control", "no-store");
      return r.approval ? c.json(r, 202) : c.json(r, 201);
    })
    .openapi(update, async (c) => {
      const result = await identity.updateAdmin(
        callContext(c),
        c.req.valid("param").id,
        c.req.valid("json"),
      );
      if (result.handover) c.header("Cache-Control", "no-store");
      return result.pending_approval ? c.json(result, 202) : c.json(result, 200);
    })
    .openapi(rotate, async (c) => {
      const id = c.req.valid("param").id;
      return c.json(await identity.requestCredentialReset(callContext(c), id, "token"), 202);
    })
    .openapi(reset2fa, async (c) => {
      const id = c.req.valid("param").id;
      return c.json(
        await identity.requestCredentialReset(callContext(c), id, "second_factor"),
        202,
      );
    });
}
