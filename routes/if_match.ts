/**
 * `If-Match` on the routes that change something (README "Inputs and headers"; RFC 9110,
 * 13.1.1: a server must not make a change whose `If-Match` is false). A route honours it where
 * its record has a tag a write can be checked against in its own commit (a fraud alert's
 * `PATCH`, the dispute evidence draft's save and upload) and declares it; every other unsafe
 * route refuses it, `422` on `header.if-match`, before anything is looked up or written, so a
 * client asking "only if it is still what I read" never gets a silent overwrite.
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import type { FieldError } from "../core/errors.ts";
import { malformedTag } from "../core/entity_tag.ts";

const UNSAFE = new Set(["post", "put", "patch", "delete"]);

const TAKEN_BY = "If-Match is taken by PATCH /fraud/alerts/{id} (the ETag of its GET) and by " +
  'PUT /disputes/{id}/evidence and POST /disputes/{id}/files (the draft\'s "<draft.hash>")';

/** The OpenAPI parameter of an unsafe route that does not take `If-Match`. */
export const IF_MATCH_NOT_TAKEN = {
  name: "if-match",
  in: "header" as const,
  required: false,
  description: "not taken here: this change is not checked against a version of the record, " +
    "so a request sending `If-Match` is `422` on `header.if-match` (nothing looked up or " +
    `written) rather than made over a version you did not read. Send it without. ${TAKEN_BY}.`,
  schema: { type: "string" as const },
};

/** Whether the route declares `If-Match` among its headers (and so honours it). */
function takesIfMatch(request: RouteConfig["request"]): boolean {
  const shape = (request?.headers as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape?.["if-match"] !== undefined;
}

/** Whether an unsafe route refuses `If-Match`: it changes something and does not declare it. */
export function refusesIfMatch(route: Pick<RouteConfig, "method" | "request">): boolean {
  return UNSAFE.has(route.method) && !takesIfMatch(route.request);
}

/** The guard's refusal of an `If-Match` the route does not take (undefined: it takes it). */
export function ifMatchRefusal(
  route: Pick<RouteConfig, "method" | "path" | "request">,
): ((c: Context<AppEnv>) => FieldError[]) | undefined {
  if (!refusesIfMatch(route)) return undefined;
  const name = `${route.method.toUpperCase()} ${route.path}`;
  return (c) =>
    c.req.header("if-match") === undefined ? [] : [{
      path: "header.if-match",
      message: `${name} takes no If-Match: the change is not checked against a version of ` +
        "the record, and would be made over one you did not read. Read the record, decide, " +
        `and send the change without If-Match. ${TAKEN_BY}`,
    }];
}

/**
 * The `If-Match` header of a route that honours it: `*` or entity-tags in double quotes (else
 * `422` on the header, saying what it takes).
 */
export function ifMatchHeader(takes: string, description: string, example: string) {
  return z.string().min(1).max(2000).superRefine((value, ctx) => {
    const bad = malformedTag(value);
    if (bad === undefined) return;
    const shown = bad.length > 80 ? `${bad.slice(0, 80)}…` : bad;
    const bare = bad.replace(/^W\//, "").replace(/^"|"$/g, "");
    const quoted = /^[\x21\x23-\x7e]+$/.test(bare) ? `: send If-Match: "${bare}"` : "";
    ctx.addIssue({
      code: "custom",
      message: `If-Match takes ${takes}; ${shown} is no entity tag${quoted}`,
    });
  }).optional().openapi({
    param: { name: "if-match", in: "header" },
    description,
    example,
  });
}
