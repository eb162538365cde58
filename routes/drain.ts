/**
 * Graceful stop for the HTTP server (README, "Commands": SIGINT/SIGTERM let
 * in-flight requests finish). `Deno.serve`'s own shutdown cuts off request
 * bodies still arriving, so a slow upload in flight would fail; this wrapper
 * first answers new requests `503 unavailable` (with `Retry-After`) and waits
 * for the requests already taken, bodies included, up to a deadline. Only
 * then is the server shut down.
 */
import { PROBLEM_BASE } from "./problem.ts";

type Handler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

export interface Drain {
  fetch: Handler;
  /** Refuses new requests from now on; resolves when those in flight are done or at `deadlineMs`. */
  stop(deadlineMs: number): Promise<{ unfinished: number }>;
  /** Requests taken and not yet answered (a body still arriving counts). */
  inFlight(): number;
}

const STOPPING_BODY = JSON.stringify({
  type: `${PROBLEM_BASE}unavailable`,
  title: "Service unavailable",
  status: 503,
  detail: "the service is stopping; send the request again in a moment",
  code: "unavailable",
});

export function createDrain(handler: Handler): Drain {
  let stopping = false;
  const inflight = new Set<Promise<unknown>>();
  return {
    fetch(req, info) {
      if (stopping) {
        return new Response(STOPPING_BODY, {
          status: 503,
          headers: {
            "content-type": "application/problem+json",
            "retry-after": "2",
            "connection": "close",
          },
        });
      }
      const answer = Promise.resolve().then(() => handler(req, info));
      const done = answer.then(() => {}, () => {});
      inflight.add(done);
      done.finally(() => inflight.delete(done));
      return answer;
    },
    inFlight: () => inflight.size,
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
