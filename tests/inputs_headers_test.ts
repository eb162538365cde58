/**
 * Inputs and headers: body limits without buffering, declared media types,
 * X-Forwarded-For only from trusted proxies, the client's request id kept
 * beside ours, cache headers, and failed authentications slowed per address.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin, otpHeaders } from "./helpers/identity.ts";

/** A body of `size` bytes streamed in 64 KiB chunks, counting what the server pulled. */
function bigBody(size: number) {
  const pulled = { bytes: 0 };
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled.bytes >= size) return controller.close();
      pulled.bytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled };
}

Deno.test("attack: a 64 MiB JSON body is refused 413 after reading at most the limit", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const { stream, pulled } = bigBody(64 * 1024 * 1024);
    const res = await t.app.request("/api/admin/users", {
      method: "POST",
      headers: { ...otpHeaders(t, admin), "content-type": "application/json" },
      body: stream,
      // @ts-ignore: a streamed request body
      duplex: "half",
    });
    assert.equal(res.status, 413);
    const body = await res.json();
    assert.equal(body.code, "payload_too_large");
    assert.ok(pulled.bytes <= 256 * 1024, `pulled ${pulled.bytes} bytes`);
    // declared too large: refused before reading anything
    const declared = await t.app.request("/api/admin/users", {
      method: "POST",
      headers: {
        ...authHeaders(admin),
        "content-type": "application/json",
        "content-length": String(10 * 1024 * 1024),
      },
      body: "{}",
    });
    assert.equal(declared.status, 413);
    await declared.body?.cancel();
  });
});

Deno.test("attack: a wrong or missing Content-Type is 415 naming what is accepted, not a 500", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    for (const type of ["text/plain", "application/xml", null]) {
      const res = await t.app.request("/api/admin/users", {
        method: "POST",
        headers: { ...otpHeaders(t, admin), ...(type ? { "content-type": type } : {}) },
        body: JSON.stringify({ email: "x@example.com", role: "viewer" }),
      });
      assert.equal(res.status, 415, `content-type ${type}`);
      const body = await res.json();
      assert.equal(body.code, "unsupported_media_type");
      assert.match(body.detail, /application\/json/);
    }
    const enroll = await t.app.request("/api/admin/enroll", {
      method: "POST",
      body: JSON.stringify({ code: "enr_x" }),
    });
    assert.equal(enroll.status, 415, "found by the abuse suite: was a 500");
    await enroll.body?.cancel();
    assert.equal(t.logs.filter((l) => /unhandled error/.test(l)).length, 0);
    // a POST with no body where the route takes none is fine
    const me = await t.app.request("/api/admin/me/rotate-token", {
      method: "POST",
      headers: otpHeaders(t, admin),
    });
    assert.equal(me.status, 200);
    assert.equal(me.headers.get("cache-control"), "no-store");
    await me.body?.cancel();
  });
});

Deno.test("attack: X-Forwarded-For and X-Request-Id from the client are not written as ours", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const res = await t.app.request("/api/admin/users", {
      headers: {
        ...authHeaders(viewer),
        "x-forwarded-for": "203.0.113.66",
        "x-request-id": "forged-request-id-1",
      },
    }, { remoteAddr: { hostname: "198.51.100.7" } });
    assert.equal(res.status, 403);
    assert.match(res.headers.get("x-request-id") ?? "", /^req_/);
    assert.equal(res.headers.get("x-client-request-id"), "forged-request-id-1");
    await res.body?.cancel();
    const denied = (await auditEntries(t.kv)).find((e) => e.action === "auth.forbidden")!;
    assert.equal(denied.ip, "198.51.100.7");
    assert.notEqual(denied.request_id, "forged-request-id-1");
  });
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const res = await t.app.request("/api/admin/users", {
      headers: { ...authHeaders(viewer), "x-forwarded-for": "203.0.113.66, 10.1.2.3" },
    }, { remoteAddr: { hostname: "10.0.0.2" } });
    await res.body?.cancel();
    const denied = (await auditEntries(t.kv)).find((e) => e.action === "auth.forbidden")!;
    assert.equal(denied.ip, "203.0.113.66", "behind a trusted proxy the client's address");
  }, { env: { TRUSTED_PROXIES: "10.0.0.0/8" } });
});

Deno.test("a client's X-Request-Id is echoed and logged only as README and the document say (8 to 128 characters); another is dropped for ours alone", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const bullet = readme.slice(readme.indexOf("- `X-Request-Id` is always ours"));
  const stated = /(\d+) to (\d+) characters/.exec(bullet.slice(0, bullet.indexOf("\n- ")));
  assert.ok(stated, "README Inputs and headers states the rule for a client's request id");
  const [min, max] = [Number(stated[1]), Number(stated[2])];
  const doc = JSON.parse(
    await Deno.readTextFile(new URL("../openapi/openapi.json", import.meta.url)),
  );
  const header: string = doc.components.headers.XClientRequestId.description;
  assert.ok(header.includes(`${min} to ${max} characters`), header);
  await withTestApp(async (t) => {
    const send = async (id: string) => {
      t.logs.length = 0;
      const res = await t.app.request("/healthz", { headers: { "x-request-id": id } });
      await res.body?.cancel();
      const line = t.logs.map((l) => JSON.parse(l)).find((l) => l.path === "/healthz") ?? {};
      return { echoed: res.headers.get("x-client-request-id"), logged: line.client_request_id };
    };
    for (const id of ["a".repeat(min), "a.b_c:d-" + "9".repeat(max - 8)]) {
      assert.deepEqual(await send(id), { echoed: id, logged: id }, id);
    }
    for (
      const id of ["abc123", "a".repeat(min - 1), "a".repeat(max + 1), "has space1", "ümlaut-id"]
    ) {
      assert.deepEqual(await send(id), { echoed: null, logged: undefined }, id);
    }
  });
});

Deno.test("admin answers say private, no-cache; secrets say no-store", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const me = await t.app.request("/api/admin/me", { headers: authHeaders(admin) });
    assert.equal(me.headers.get("cache-control"), "private, no-cache");
    await me.body?.cancel();
    const step = await t.app.request("/api/admin/step-up", {
      method: "POST",
      headers: { ...authHeaders(admin), "content-type": "application/json" },
      body: JSON.stringify({ code: otpHeaders(t, admin)["x-otp-code"] }),
    });
    assert.equal(step.status, 200);
    assert.equal(step.headers.get("cache-control"), "no-store");
    await step.body?.cancel();
  });
});

Deno.test("failed authentications from one address are slowed after a burst, with a log line", async () => {
  await withTestApp(async (t) => {
    const env = { remoteAddr: { hostname: "192.0.2.9" } };
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) {
      const res = await t.app.request("/api/admin/me", {
        headers: { authorization: `Bearer pot_${"x".repeat(43)}` },
      }, env);
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assert.equal(statuses.filter((s) => s === 401).length, 30);
    assert.equal(statuses.at(-1), 429);
    assert.ok(t.logs.some((l) => l.includes("authentication failures throttled")));
    // another address is not affected
    const other = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer pot_${"x".repeat(43)}` },
    }, { remoteAddr: { hostname: "192.0.2.10" } });
    assert.equal(other.status, 401);
    await other.body?.cancel();
  });
});

/** One HTTP/1.1 request written by hand, as curl sends it; the status and body of the answer. */
async function rawRequest(port: number, head: string[], body = ""): Promise<[number, string]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const text = [...head, "Host: 127.0.0.1", "Connection: close", "", body].join("\r\n");
    await conn.write(new TextEncoder().encode(text));
    const answer = await new Response(conn.readable).text();
    return [Number(answer.split(" ")[1]), answer.slice(answer.indexOf("\r\n\r\n") + 4)];
  } catch (error) {
    conn.close();
    throw error;
  }
}

Deno.test("a POST with no body and no Content-Length over a real socket (curl -X POST) is no body, not 415", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (req, info) => t.app.fetch(req, info),
    );
    try {
      const port = server.addr.port;
      const auth = `Authorization: Bearer ${admin.token}`;
      // a route that needs a body: the body is missing, said as such (no code spent)
      const [status, text] = await rawRequest(port, ["POST /api/admin/step-up HTTP/1.1", auth]);
      assert.equal(status, 422, text);
      assert.match(text, /a request body is required: send application\/json/);
      // bytes without a Content-Type are still refused
      const [typed] = await rawRequest(port, [
        "POST /api/admin/step-up HTTP/1.1",
        auth,
        "Transfer-Encoding: chunked",
      ], "2\r\n{}\r\n0\r\n\r\n");
      assert.equal(typed, 415);
      // a route that takes no body: done
      const otp = `X-OTP-Code: ${otpHeaders(t, admin)["x-otp-code"]}`;
      const [rotated] = await rawRequest(port, [
        "POST /api/admin/me/rotate-token HTTP/1.1",
        auth,
        otp,
      ]);
      assert.equal(rotated, 200, "was 415: Content-Type (none) is not accepted here; send no body");
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("an over-long Idempotency-Key is refused before the second factor is spent", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = otpHeaders(t, admin);
    const res = await t.app.request("/api/admin/payments/refunds", {
      method: "POST",
      headers: {
        ...headers,
        "content-type": "application/json",
        "idempotency-key": "k".repeat(300),
      },
      body: JSON.stringify({ transaction_id: "txn_x", reason: "duplicate", note: "x" }),
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.match(body.detail, /idempotency-key/i);
    // the same code still works
    const step = await t.app.request("/api/admin/step-up", {
      method: "POST",
      headers: { ...authHeaders(admin), "content-type": "application/json" },
      body: JSON.stringify({ code: headers["x-otp-code"] }),
    });
    assert.equal(step.status, 200, "the code was spent on a request refused for its header");
    await step.body?.cancel();
  });
});
