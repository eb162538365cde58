/**
 * /users (mounted under /api/admin): manage admins and roles (role `admin`; changes need a
 * second factor). Granting `admin` is maker-checker: the PATCH (or POST)
 * answers 202 with a pending role grant that a different admin approves.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { listRoute } from "./list_route.ts";
import { callContext } from "./context.ts";
import {
  AdminSchema,
  AdminStatusSchema,
  DateTimeSchema as DateTime,
  errorResponses,
  jsonBody,
  jsonContent,
  RoleSchema,
} from "../openapi/schemas.ts";
import type { Services } from "../services/mod.ts";

const RoleGrantSchema = z.object({
  id: z.string().openapi({ example: "grt_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  admin_id: z.string(),
  from_role: RoleSchema,
  role: RoleSchema,
  status: z.enum(["pending", "approved", "rejected"]),
  requested_by: z.string(),
  decided_by: z.string().nullable(),
  created_at: DateTime,
  decided_at: DateTime.nullable(),
  expires_at: DateTime,
}).openapi("RoleGrant");

const Credentials = z.object({
  admin: AdminSchema,
  token: z.string().openapi({ description: "API token: shown once, stored only as a hash" }),
  totp_secret: z.string().openapi({ description: "base32 TOTP secret: shown once" }),
  otpauth_uri: z.string().openapi({ example: "otpauth://totp/PayOps:ops%40example.com?..." }),
  recovery_codes: z.array(z.string()).openapi({
    description: "8 single-use codes (`xxxx-xxxx`) usable in X-OTP-Code: shown once",
  }),
  pending_role_grant: RoleGrantSchema.nullable().openapi({
    description:
      "asked for role `admin`: the account starts as `viewer` until another admin approves",
  }),
}).openapi("AdminCredentials");

const AdminChangeResult = z.object({
  admin: AdminSchema,
  pending_role_grant: RoleGrantSchema.nullable(),
}).openapi("AdminChangeResult");

const IdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "adm_01J" }),
});
const GrantParams = IdParam.extend({
  grant_id: z.string().min(1).max(64).openapi({ param: { name: "grant_id", in: "path" } }),
});

const list = listRoute({
  permission: "users.read",
  path: "/users",
  tags: ["users"],
  summary: "Admins, newest first",
  filters: {},
  item: AdminSchema,
  pageName: "AdminPage",
});

const show = adminRoute({ permission: "users.read" }, {
  method: "get",
  path: "/users/{id}",
  tags: ["users"],
  summary: "One admin with the role grants awaiting approval",
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      AdminSchema.extend({ pending_role_grants: z.array(RoleGrantSchema) }).openapi("AdminDetail"),
      "the admin",
    ),
    ...errorResponses("not_found"),
  },
});

const create = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "post",
  path: "/users",
  tags: ["users"],
  summary: "Create an admin; returns its token, TOTP secret and recovery codes once",
  request: {
    body: jsonBody(z.object({
      email: z.string().max(254).openapi({ example: "ops@example.com" }),
      role: RoleSchema,
    })),
  },
  responses: {
    201: jsonContent(Credentials, "created; the secrets are not shown again"),
    ...errorResponses("conflict"),
  },
});

const update = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "patch",
  path: "/users/{id}",
  tags: ["users"],
  summary: "Change an admin's role or status",
  description: "You cannot change your own role or status. `role: admin` needs a second " +
    "admin: the answer is 202 with a pending role grant to approve.",
  request: {
    params: IdParam,
    body: jsonBody(
      z.object({ role: RoleSchema.optional(), status: AdminStatusSchema.optional() })
        .refine((b) => b.role !== undefined || b.status !== undefined, {
          message: "send role and/or status",
        }),
    ),
  },
  responses: {
    200: jsonContent(AdminChangeResult, "changed"),
    202: jsonContent(AdminChangeResult, "the admin role awaits a second admin's approval"),
    ...errorResponses("not_found", "conflict"),
  },
});

const approve = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "post",
  path: "/users/{id}/role-grants/{grant_id}/approve",
  tags: ["users"],
  summary: "Approve a pending role grant (not your own request)",
  request: { params: GrantParams },
  responses: {
    200: jsonContent(
      z.object({ admin: AdminSchema, grant: RoleGrantSchema }).openapi("RoleGrantApproval"),
      "the role is granted",
    ),
    ...errorResponses("not_found", "conflict", "self_approval_forbidden"),
  },
});

const reject = adminRoute({ permission: "users.write" }, {
  method: "post",
  path: "/users/{id}/role-grants/{grant_id}/reject",
  tags: ["users"],
  summary: "Close a pending role grant without granting it",
  request: { params: GrantParams },
  responses: {
    200: jsonContent(RoleGrantSchema, "rejected"),
    ...errorResponses("not_found", "conflict"),
  },
});

const rotate = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "post",
  path: "/users/{id}/rotate-token",
  tags: ["users"],
  summary: "Issue a new API token; the old one stops working at once",
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      z.object({ admin: AdminSchema, token: z.string() }).openapi("RotatedToken"),
      "the new token, shown once",
    ),
    ...errorResponses("not_found"),
  },
});

const reset2fa = adminRoute({ permission: "users.write", secondFactor: true }, {
  method: "post",
  path: "/users/{id}/reset-2fa",
  tags: ["users"],
  summary: "Replace the TOTP secret and recovery codes (lost phone)",
  request: { params: IdParam },
  responses: {
    200: jsonContent(
      z.object({
        admin: AdminSchema,
        totp_secret: z.string(),
        otpauth_uri: z.string(),
        recovery_codes: z.array(z.string()),
      }).openapi("SecondFactorReset"),
      "the new second factor, shown once",
    ),
    ...errorResponses("not_found"),
  },
});

export function userRoutes(services: Services) {
  const identity = services.identity;
  return createRouter()
    .openapi(list, async (c) => c.json(await identity.listAdmins(c.req.valid("query")), 200))
    .openapi(show, async (c) => c.json(await identity.getAdmin(c.req.valid("param").id), 200))
    .openapi(create, async (c) => {
      return c.json(await identity.createAdmin(callContext(c), c.req.valid("json")), 201);
    })
    .openapi(update, async (c) => {
      const result = await identity.updateAdmin(
        callContext(c),
        c.req.valid("param").id,
        c.req.valid("json"),
      );
      return result.pending_role_grant ? c.json(result, 202) : c.json(result, 200);
    })
    .openapi(approve, async (c) => {
      const { id, grant_id } = c.req.valid("param");
      return c.json(await identity.approveRoleGrant(callContext(c), id, grant_id), 200);
    })
    .openapi(reject, async (c) => {
      const { id, grant_id } = c.req.valid("param");
      return c.json(await identity.rejectRoleGrant(callContext(c), id, grant_id), 200);
    })
    .openapi(rotate, async (c) => {
      return c.json(await identity.rotateToken(callContext(c), c.req.valid("param").id), 200);
    })
    .openapi(reset2fa, async (c) => {
      const id = c.req.valid("param").id;
      return c.json(await identity.resetSecondFactor(callContext(c), id), 200);
    });
}
