/**
 * `HEAD` answers as `GET` would, without the body (RFC 9110, 9.3.2), and its `Content-Length`
 * is the GET's or none (8.6): never the `0` of the empty body it carries, which Deno 2.9's
 * server adds when nothing says otherwise, and none where the GET's answer may be compressed.
 * Seen on a real socket (`app.request` never shows what the server adds), on each Deno the
 * suite runs on (2.5 sends the GET chunked, without a length: its content is what counts).
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { headLength, keepHeadLength } from "../routes/head.ts";

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  /** octets of content (chunked framing taken off) */
  body: number;
}

/** The content length of a chunked body (RFC 9112, 7.1): the sum of its chunk sizes. */
function chunkedLength(text: string): number {
  let total = 0;
  let at = 0;
  for (;;) {
    const eol = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, eol).split(";")[0], 16);
    if (!size) return total;
    total += size;
    at = eol + 2 + size + 2;
  }
}

/** One request over its own connection, as curl sends it: the status line, headers and body size. */
async function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const lines = [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  await conn.write(new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`));
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const text = new TextDecoder("latin1").decode(all);
  const end = text.indexOf("\r\n\r\n");
  const [statusLine, ...fields] = text.slice(0, end).split("\r\n");
  const map = new Map<string, string>();
  for (const f of fields) {
    const i = f.indexOf(":");
    map.set(f.slice(0, i).trim().toLowerCase(), f.slice(i + 1).trim());
  }
  const content = text.slice(end + 4);
  const chunked = map.get("transfer-encoding") === "chunked";
  const body = chunked ? chunkedLength(content) : content.length;
  return { status: Number(statusLine.split(" ")[1]), headers: map, body };
}

async function serving<T>(
  fetch: (req: Request) => Response | Promise<Response>,
  fn: (port: number) => Promise<T>,
): Promise<T> {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, fetch);
  try {
    return await fn(server.addr.port);
  } finally {
    await server.shutdown();
  }
}

Deno.test("HEAD sends the Content-Length GET sends (a list, the OpenAPI document, /, /healthz, a 404)", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "operator");
    await serving(t.app.fetch, async (port) => {
      const auth = authHeaders(admin);
      const cases: [string, Record<string, string>][] = [
        ["/api/admin/payments/refunds?limit=2", auth],
        ["/openapi.json", {}],
        ["/", {}],
        ["/healthz", {}],
        ["/api/admin/payments/refunds/rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", auth],
      ];
      for (const [path, headers] of cases) {
        const get = await raw(port, "GET", path, headers);
        const head = await raw(port, "HEAD", path, headers);
        assert.equal(head.status, get.status, path);
        assert.ok(get.body > 0, `${path}: GET has a body`);
        const getLength = get.headers.get("content-length");
        if (getLength !== undefined) assert.equal(getLength, String(get.body), `${path}: GET`);
        assert.equal(head.body, 0, `${path}: HEAD sends no body`);
        assert.equal(head.headers.get("content-length"), String(get.body), `${path}: HEAD`);
        assert.equal(head.headers.get("etag"), get.headers.get("etag"), `${path}: ETag`);
      }
    });
  });
});

Deno.test("HEAD from a client that accepts gzip sends no Content-Length: the GET's may be compressed", async () => {
  await withTestApp(async (t) => {
    await serving(t.app.fetch, async (port) => {
      const gzip = { "accept-encoding": "gzip, deflate, br" };
      const head = await raw(port, "HEAD", "/openapi.json", gzip);
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), undefined);
      assert.equal(head.body, 0);
      const identity = await raw(port, "HEAD", "/openapi.json", { "accept-encoding": "gzip;q=0" });
      const get = await raw(port, "GET", "/openapi.json");
      assert.equal(identity.headers.get("content-length"), String(get.body));
    });
  });
});

Deno.test("HEAD whose GET answer is a stream longer than what is measured sends no Content-Length", async () => {
  const app = new Hono();
  app.use("*", headLength(16));
  app.get("/stream", () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("0123456789"));
          c.close();
        },
      }),
      { headers: { "content-type": "text/plain" } },
    ));
  app.get("/short", (c) => c.text("short"));
  const fetch = keepHeadLength(app.fetch);
  await serving(fetch, async (port) => {
    const head = await raw(port, "HEAD", "/stream");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), undefined);
    assert.equal(head.body, 0);
    const short = await raw(port, "HEAD", "/short");
    assert.equal(short.headers.get("content-length"), "5");
    assert.equal(short.body, 0);
  });
});

Deno.test("HEAD of an unchanged answer is 304 like GET, with no Content-Length", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "operator");
    await serving(t.app.fetch, async (port) => {
      const path = "/api/admin/payments/refunds?limit=2";
      const get = await raw(port, "GET", path, authHeaders(admin));
      const etag = get.headers.get("etag")!;
      const head = await raw(port, "HEAD", path, { ...authHeaders(admin), "if-none-match": etag });
      assert.equal(head.status, 304);
      assert.equal(head.headers.get("content-length"), undefined);
    });
  });
});
