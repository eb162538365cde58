/**
 * Revalidation for admin reads (README, "Caching and ETags"): every `200` JSON
 * answer to a GET carries a weak `ETag` computed from its body, and a request
 * whose `If-None-Match` names it gets `304 Not Modified` with no body. Admin
 * answers say `Cache-Control: private, no-cache` (a route that says
 * `no-store`, such as one showing a secret, keeps it and gets no tag): a
 * client may keep a copy but asks every time, so access checks still run on
 * each request and a 304 never outlives a revoked token.
 *
 * The tag is two 32-bit FNV-1a hashes of the body and its length: cheap next
 * to the KV reads that built the body, and weak (`W/`) since it vouches for the
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

export function etags(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (c.req.method !== "GET" || c.res.status !== 200) return;
    const res = c.res;
    const cacheControl = res.headers.get("cache-control");
    if (cacheControl?.includes("no-store")) return;
    const headers = new Headers(res.headers);
    if (!cacheControl) headers.set("Cache-Control", ADMIN_CACHE_CONTROL);
    if (!res.headers.get("content-type")?.startsWith("application/json")) {
      c.res = new Response(res.body, { status: 200, headers });
      return;
    }
    const body = await res.text();
    const tag = weakEtag(body);
    headers.set("ETag", tag);
    if (noneMatch(c.req.header("if-none-match"), tag)) {
      headers.delete("content-type");
      headers.delete("content-length");
      c.res = undefined; // not merged with the 200's headers
      c.res = new Response(null, { status: 304, headers });
      return;
    }
    c.res = undefined;
    c.res = new Response(body, { status: 200, headers });
  };
}
