/**
 * What a request no route takes is answered (README, "API"): `405 method_not_allowed`
 * with `Allow` when its path exists with other methods (`HEAD` wherever `GET` is, as
 * Hono answers a `HEAD` with the `GET` route; `OPTIONS` only where a route takes it),
 * else `404 not_found`. On the admin surface (a path an admin route's guard protects)
 * the caller's token is checked first, as on any admin request (address, bearer,
 * throttle): an anonymous caller gets the `401` it would get with the right method,
 * never the path's methods, and a wrong token counts against its address.
 */
import type { Context } from "hono";
import type { RouterRoute } from "hono/types";
import { TrieRouter } from "hono/router/trie-router";
import type { AppEnv } from "./env.ts";
import { isAdminGuard } from "./admin_route.ts";
import { requestMeta } from "./context.ts";
import { problemResponse } from "./problem.ts";
import { AppError } from "../core/errors.ts";

interface PathRoute {
  method: string;
  guarded: boolean;
}

/** Any method: every route is added under it, so one match finds all of a path's routes. */
const ANY = "ANY";

/**
 * The handler for a request no route took, over the app's `routes` (read at the first such
 * request, once every route is mounted). Errors (a refused token) are thrown for `onError`.
 */
export function unrouted(
  routes: readonly RouterRoute[],
): (c: Context<AppEnv>) => Promise<Response> {
  let router: TrieRouter<PathRoute> | null = null;
  const routesOf = (path: string): PathRoute[] => {
    if (!router) {
      // the same matching as the app's (a trailing slash is another path); middleware is ALL
      router = new TrieRouter<PathRoute>();
      for (const r of routes) {
        if (r.method === "ALL") continue;
        router.add(ANY, r.path, { method: r.method, guarded: isAdminGuard(r.handler) });
      }
    }
    return router.match(ANY, path)[0].map(([route]) => route);
  };
  return async (c) => {
    // a HEAD is answered as its GET (RFC 9110, 9.3.2): the same words, so the same length
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const path = c.req.path;
    const found = routesOf(path);
    if (found.length === 0) {
      return problemResponse(
        c,
        new AppError("not_found", `no route for ${method} ${path}; see /docs for the API`),
      );
    }
    if (found.some((r) => r.guarded)) {
      const identity = c.get("services").identity;
      const principal = await identity.authenticateRequest(
        c.req.header("authorization"),
        requestMeta(c),
      );
      await identity.throttle(principal, "api");
    }
    const methods = new Set(found.map((r) => r.method));
    if (methods.has("GET")) methods.add("HEAD");
    const allow = [...methods].sort().join(", ");
    const res = problemResponse(
      c,
      new AppError("method_not_allowed", `${method} is not a method of ${path}; it takes ${allow}`),
    );
    res.headers.set("allow", allow);
    return res;
  };
}
