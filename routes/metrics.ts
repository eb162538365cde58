/**
 * GET /metrics: Prometheus text format. Readable with the `METRICS_TOKEN`
 * bearer (a scraper needs no admin account) or an admin's API token.
 * Kept out of the OpenAPI document: it is for scrapers, not API clients.
 * Failed authentications count against the address as on admin routes, and
 * an admin's token is throttled like any admin request (README, "Metrics").
 */
import { createRouter } from "./router.ts";
import { AppError } from "../core/errors.ts";
import { requestMeta } from "./context.ts";

const BEARER = /^Bearer\s+(\S+)$/i;

/** Compares in time independent of where the strings differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export function metricsRoutes(metricsToken: string | undefined) {
  const router = createRouter();
  router.get("/metrics", async (c) => {
    const identity = c.get("services").identity;
    const meta = requestMeta(c);
    const authorization = c.req.header("authorization");
    const token = authorization ? BEARER.exec(authorization)?.[1] : undefined;
    const scraper = metricsToken !== undefined && token !== undefined &&
      sameSecret(token, metricsToken);
    if (scraper) {
      await identity.checkAddress(meta);
    } else {
      const principal = await identity.authenticateRequest(authorization, meta).catch((e) => {
        if (!(e instanceof AppError) || e.code !== "unauthenticated") throw e;
        if (!token) {
          throw new AppError(
            "unauthenticated",
            "send Authorization: Bearer <METRICS_TOKEN> (or an admin's API token)",
          );
        }
        // A scraper's bearer is not an admin token: say what /metrics takes. The same words
        // whether METRICS_TOKEN is set or not: an unauthenticated caller learns nothing of it.
        if (!token.startsWith("pot_")) {
          throw new AppError(
            "unauthenticated",
            "this bearer is neither METRICS_TOKEN nor an admin's API token: give the scraper " +
              "the server's current METRICS_TOKEN (where none is set, set one of 16 characters " +
              "or more in the server's environment and restart it), or scrape with an admin's token",
          );
        }
        throw e;
      });
      await identity.throttle(principal, "api");
      if (principal.role !== "admin") {
        throw new AppError("forbidden", "metrics are for admins and the METRICS_TOKEN bearer");
      }
    }
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    c.header("Cache-Control", "no-store");
    return c.body(await c.get("services").metrics.render());
  });
  return router;
}
