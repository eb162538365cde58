/**
 * `listRoute(...)`: an admin GET that answers one page of a listing, newest
 * first. The query is the route's filters plus `limit` and `cursor`; the
 * answer is `{ data, next_cursor }` of `item`.
 */
import { z } from "@hono/zod-openapi";
import { adminRoute } from "./admin_route.ts";
import { CursorQuery, jsonContent, LimitQuery, pageSchema } from "../openapi/schemas.ts";
import type { Permission } from "../domain/permissions.ts";

export interface ListRouteOptions<F extends z.ZodRawShape, T extends z.ZodType> {
  permission: Permission;
  path: string;
  tags: string[];
  summary: string;
  description?: string;
  /** the query parameters besides `limit` and `cursor` */
  filters: F;
  item: T;
  /** the page schema's name in the OpenAPI document (`RefundPage`) */
  pageName: string;
  /** what the page schema says of its pages and their `next_cursor`, if anything */
  pageDescription?: { page: string; nextCursor: string };
}

export function listRoute<F extends z.ZodRawShape, T extends z.ZodType>(
  o: ListRouteOptions<F, T>,
) {
  return adminRoute({ permission: o.permission }, {
    method: "get" as const,
    path: o.path,
    tags: o.tags,
    summary: o.summary,
    description: o.description,
    request: { query: z.object({ ...o.filters, limit: LimitQuery, cursor: CursorQuery }) },
    responses: { 200: jsonContent(pageSchema(o.item, o.pageName, o.pageDescription), "a page") },
  });
}
