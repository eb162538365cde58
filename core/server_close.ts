/**
 * Closing a `Deno.serve` server without waiting on a connection that never
 * sends a request. Deno 2.5 (Deno Deploy's; 2.9 does not) lets such a
 * connection hold `shutdown()` until its peer closes it: a TCP health probe,
 * or a socket an HTTP client's pool opened ahead of need and parked. Requests
 * still being answered are the caller's to wait for first (main.ts drains
 * them); what is left once they are done can only be idle.
 */

import { settleWithin } from "./deadline.ts";

/** How long `closeServer` lets idle connections close on their own, ms. */
export const IDLE_CLOSE_GRACE_MS = 2_000;

/**
 * Resolves once the server has shut down, or after `graceMs` with `"cut"`:
 * the process may then exit, and the connections still open close with it.
 */
export async function closeServer(
  server: Pick<Deno.HttpServer, "shutdown">,
  graceMs = IDLE_CLOSE_GRACE_MS,
): Promise<"closed" | "cut"> {
  return await settleWithin(server.shutdown(), graceMs) === "done" ? "closed" : "cut";
}
