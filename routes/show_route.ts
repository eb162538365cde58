/**
 * `showRoute(...)`: an admin GET that answers one item by its id in the path,
 * or 404 `not_found`.
 */
import { z } from "@hono/zod-openapi";
import { adminRoute } from "./admin_route.ts";
import { errorResponses, jsonContent } from "../openapi/schemas.ts";
import type { Permission } from "../domain/permissions.ts";

export interface ShowRouteOptions<P extends z.ZodObject, T extends z.ZodType> {
  permission: Permission;
  path: string;
  tags: string[];
  summary: string;
  description?: string;
  params: P;
  item: T;
  /** what the 200 answer is, in the OpenAPI document ("the alert") */
  found: string;
}

export function showRoute<P extends z.ZodObject, T extends z.ZodType>(o: ShowRouteOptions<P, T>) {
  return adminRoute({ permission: o.permission }, {
    method: "get" as const,
    path: o.path,
    tags: o.tags,
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    request: { params: o.params },
    responses: { 200: jsonContent(o.item, o.found), ...errorResponses("not_found") },
  });
}

/** The `{id}` path parameter, checked by `id` (`example` shown in the OpenAPI document). */
export function idParam(id: z.ZodString, example?: string) {
  return z.object({
    id: id.openapi({ param: { name: "id", in: "path" }, ...(example ? { example } : {}) }),
  });
}
