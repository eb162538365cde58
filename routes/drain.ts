/**
 * Graceful stop for the HTTP server (README, "Quick start": SIGINT/SIGTERM let
 * in-flight requests finish). `Deno.serve`'s own shutdown cuts off request
 * bodies still arriving, so a slow upload in flight would fail; this wrapper
 * counts the requests taken and, once told to stop, waits for them, bodies
 * included, up to a deadline. Only then is the server shut down.
 *
 * A request is done when its answer has been sent, body and all, or the
 * client went away: a streamed answer (an audit export) is still being sent
 * long after its `Response` exists. The server says when
 * (`Deno.ServeHandlerInfo.completed`, which settles once the last byte is
 * written or the connection is gone), so no answer is re-wrapped: a fixed
 * body keeps its `Content-Length`. Called without a server (in-process, no
 * `completed`), a request is done once answered.
 *
 * Requests arriving meanwhile still go through the app, whose first
 * middleware after the access log (`refuseWhileStopping`) answers them
 * `503 unavailable` with `Retry-After`: like any other answer they carry
 * `X-Request-Id`, have their access-log line and are counted in
 * `payops_http_requests_total` (README, "Metrics"). `GET /metrics` is still
 * served, so a scrape during the stop sees them, and so is `GET /healthz`.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { problemResponse } from "./problem.ts";
import { AppError } from "../core/errors.ts";

type Handler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

export interface Drain {
  fetch: Handler;
  /** From now on the app refuses new requests; resolves when those in flight are done or at `deadlineMs`. */
  stop(deadlineMs: number): Promise<{ unfinished: number }>;
  /**
   * Requests taken before the stop and not yet done: a body still arriving counts, and so does an
   * answer's body still being sent.
   */
  inFlight(): number;
  /** Whether `stop` was called (what `refuseWhileStopping` asks). */
  stopping(): boolean;
}

export function createDrain(handler: Handler): Drain {
  let stopping = false;
  const inflight = new Set<Promise<unknown>>();
  return {
    fetch(req, info) {
      // refused by the app at once and never waited for: a stream of them cannot hold the stop
      if (stopping) return handler(req, info);
      const answer = Promise.resolve().then(() => handler(req, info));
      // `completed` settles (rejected when the client went away) once the answer is sent or
      // cannot be; it settles on a handler's error too (a 500), so the answer is waited for first
      const sent = (info as Partial<Deno.ServeHandlerInfo>).completed;
      const done = answer.then(() => sent).then(() => {}, () => {});
      inflight.add(done);
      done.finally(() => inflight.delete(done));
      return answer;
    },
    inFlight: () => inflight.size,
    stopping: () => stopping,
    async stop(deadlineMs) {
      stopping = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, deadlineMs));
      while (inflight.size > 0) {
        const settled = Promise.allSettled([...inflight]).then(() => "done" as const);
        if (await Promise.race([settled, deadline.then(() => "late" as const)]) === "late") break;
      }
      clearTimeout(timer);
      return { unfinished: inflight.size };
    },
  };
}

/**
 * Served while stopping: what a scraper reads to see the stop (README, "Metrics"), and
 * liveness, which stays 200 while the process drains so an orchestrator does not kill it
 * mid-drain; readiness (`/readyz`) is refused, taking the server out of rotation (README,
 * "Quick start").
 */
const SERVED_WHILE_STOPPING = new Set(["GET /metrics", "GET /healthz", "HEAD /healthz"]);

/**
 * Once `stopping()` says so, answers every request but a scrape or a liveness probe
 * `503 unavailable` (`Retry-After: 2`, `Connection: close`) without reading its body.
 */
export function refuseWhileStopping(stopping: () => boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!stopping() || SERVED_WHILE_STOPPING.has(`${c.req.method} ${c.req.path}`)) {
      return await next();
    }
    const res = problemResponse(
      c,
      new AppError("unavailable", "the service is stopping; send the request again in a moment", {
        retryAfter: 2,
      }),
    );
    res.headers.set("connection", "close");
    return res;
  };
}
