/**
 * Revalidation for admin reads (README, "Caching and ETags"): every `200` JSON
 * answer to a GET carries a weak `ETag` computed from its body, and a request
 * whose `If-None-Match` names it gets `304 Not Modified` with no body. Admin
 * answers say `Cache-Control: private, no-cache` (a route that says
 * `no-store`, such as one showing a secret, keeps it and gets no tag): a
 * client may keep a copy but asks every time, so access checks still run on
 * each request and a 304 never outlives a revoked token.
 *
 * The tag is two 32-bit FNV-1a hashes of the body and its length, taken as
 * the route's `c.json` stringifies it: cheap next to the KV reads that built
 * the body, and weak (`W/`) since it vouches for the
 * JSON's meaning, not for a byte-exact transfer encoding.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";

export const ADMIN_CACHE_CONTROL = "private, no-cache";

/** A weak entity tag for `body`. */
export function weakEtag(body: string): string {
  let a = 0x811c9dc5, b = 0x01000193 ^ body.length;
  for (let i = 0; i < body.length; i++) {
    const ch = body.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x5bd1e995) ^ (b >>> 15);
  }
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  return `W/"${body.length.toString(36)}-${hex(a)}${hex(b)}"`;
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
    if (c.req.method !== "GET") return await next();
    const json = c.json;
    const held = c.req.header("if-none-match");
    c.json = ((value: unknown, arg?: unknown, headers?: unknown) => {
      if ((arg !== undefined && arg !== 200) || headers !== undefined) {
        return (json as (v: unknown, a?: unknown, h?: unknown) => Response)(value, arg, headers);
      }
      const body = JSON.stringify(value);
      const tag = weakEtag(body);
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
