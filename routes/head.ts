/**
 * `HEAD` answers as `GET` would, without the body (RFC 9110, 9.3.2), and says the GET's
 * `Content-Length` or none (8.6). Hono answers a HEAD by running the GET route and dropping
 * the body, and Deno's server then adds `Content-Length: 0` (Deno 2.9; 2.5 adds none) for the
 * empty body it is handed: a length the GET never has.
 *
 * `headLength()` (the app's outermost middleware) reads the GET's answer, up to `limit` bytes,
 * and says its length; an answer longer than that (an audit export's stream) is not read to its
 * end, and gets none. Nor does a request that accepts a content coding (`Accept-Encoding:
 * gzip`): the server may compress the GET's answer (Deno 2.5 does), whose length is then
 * another. `keepHeadLength(fetch)` (around the app's fetch) hands the server an empty stream
 * rather than no body where no length is said, so it adds none either.
 */
import type { MiddlewareHandler } from "hono";

/** An answer up to this long is read to say its length (the OpenAPI document is under 1 MiB). */
export const HEAD_MEASURE_LIMIT = 8 * 1024 * 1024;

/** Statuses whose answer never has a body (RFC 9110, 6.4.1): the server adds no length to them. */
const NO_BODY = new Set([101, 103, 204, 205, 304]);

/** The byte length of `body`, or null once it is longer than `limit` (then it is cancelled). */
async function lengthOf(body: ReadableStream<Uint8Array>, limit: number): Promise<number | null> {
  const reader = body.getReader();
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return size;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
  }
}

/** Whether `Accept-Encoding` admits a coding other than identity (the answer may be compressed). */
function acceptsCoding(header: string | undefined): boolean {
  return (header ?? "").split(",").some((part) => {
    const [coding, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    if (!coding || coding === "identity") return false;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Says a HEAD answer's `Content-Length`: the length of the body the GET route made. */
export function headLength(limit = HEAD_MEASURE_LIMIT): MiddlewareHandler {
  const measure: MiddlewareHandler = async (c, next) => {
    await next();
    const res = c.res;
    if (!res.body || res.headers.has("content-length")) return;
    const coded = acceptsCoding(c.req.header("accept-encoding"));
    if (coded) await res.body.cancel().catch(() => {});
    const size = coded ? null : await lengthOf(res.body, limit);
    // the body is read: the answer goes on without it (Hono drops it anyway)
    c.res = new Response(null, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
    if (size !== null) c.res.headers.set("content-length", String(size));
  };
  // anything but a HEAD passes straight through (no extra await on every request)
  return (c, next) => c.req.method === "HEAD" ? measure(c, next) : next();
}

type Fetch<A extends unknown[]> = (req: Request, ...rest: A) => Response | Promise<Response>;

/**
 * The app's fetch, with a HEAD answer that says no length handed to the server as an empty
 * stream, not as no body, so the server adds no `Content-Length: 0` of its own.
 */
export function keepHeadLength<A extends unknown[]>(fetch: Fetch<A>): Fetch<A> {
  const head = async (req: Request, ...rest: A) => {
    const res = await fetch(req, ...rest);
    if (res.headers.has("content-length") || NO_BODY.has(res.status)) return res;
    const none = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return new Response(none, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
  return (req, ...rest) => req.method === "HEAD" ? head(req, ...rest) : fetch(req, ...rest);
}
