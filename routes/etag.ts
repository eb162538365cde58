/**
 * Revalidation for admin reads (README, "Caching and ETags"): every `200` JSON
 * answer to a GET carries a weak `ETag` computed from its body, and a request
 * whose `If-None-Match` names it gets `304 Not Modified` with no body. Admin
 * answers say `Cache-Control: private, no-cache` (a route that says
 * `no-store`, such as one showing a secret, keeps it and gets no tag): a
 * client may keep a copy but asks every time, so access checks still run on
 * each request and a 304 never outlives a revoked token.
 *
 * The tag is the body's length and 64 bits of its SHA-1 (core/entity_tag.ts),
 * taken as the route's `c.json` stringifies it: about 12 µs for a page of 25
 * transactions, where the FNV-1a hash in JavaScript it replaced took about 7%
 * of the list route's CPU time. The tag is weak (`W/`) since it vouches for the JSON's
 * meaning, not for a byte-exact transfer encoding; a route whose answer is the record as
 * stored (`GET /fraud/alerts/{id}`) marks it strong (`strongEtag`), so its `PATCH` can take
 * it back as `If-Match` (README "Inputs and headers").
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { entityTag } from "../core/entity_tag.ts";

export const ADMIN_CACHE_CONTROL = "private, no-cache";

/** A weak entity tag for `body`. */
export function weakEtag(body: string): string {
  return `W/${entityTag(body)}`;
}

/** Weak comparison (RFC 9110, 13.1.2): `*`, or any listed tag equal to `tag` ignoring `W/`. */
export function noneMatch(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  const opaque = tag.replace(/^W\//, "");
  return header.split(",").some((t) => {
    const v = t.trim();
    return v === "*" || v.replace(/^W\//, "") === opaque;
  });
}

/**
 * Tags the JSON where it is made: `c.json(value, 200)` is stringified once,
 * tagged, and answered `304` when the request already holds that tag, so no
 * body is read back or rebuilt. Other statuses and media types pass as they are.
 */
export function etags(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // HEAD runs the GET route (Hono drops the body): it carries the same ETag
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return await next();
    const json = c.json;
    const held = c.req.header("if-none-match");
    c.json = ((value: unknown, arg?: unknown, headers?: unknown) => {
      if ((arg !== undefined && arg !== 200) || headers !== undefined) {
        return (json as (v: unknown, a?: unknown, h?: unknown) => Response)(value, arg, headers);
      }
      const body = JSON.stringify(value);
      const tag = c.get("strongEtag") ? entityTag(body) : weakEtag(body);
      c.header("ETag", tag);
      if (noneMatch(held, tag)) return c.body(null, 304);
      return c.body(body, 200, { "content-type": "application/json" });
    }) as typeof c.json;
    await next();
    const status = c.res.status;
    if (status !== 200 && status !== 304) return;
    const cacheControl = c.res.headers.get("cache-control");
    if (cacheControl?.includes("no-store")) {
      c.res.headers.delete("etag");
    } else if (!cacheControl) {
      c.res.headers.set("Cache-Control", ADMIN_CACHE_CONTROL);
    }
  };
}
