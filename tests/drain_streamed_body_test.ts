/**
 * A stop waits for a streamed answer's body, not only for its headers (README, "Quick start":
 * in-flight requests finish, for up to 25 s): an audit export being downloaded when SIGTERM
 * arrives is sent whole. A client that goes away mid-body does not hold the stop, and a body
 * that never ends is given up at the deadline. On a real `Deno.serve`, as main.ts serves.
 */
import assert from "node:assert/strict";
import { createDrain } from "../routes/drain.ts";
import { withTestApp } from "./helpers/app.ts";
import { createAdmin, otpHeaders } from "./helpers/identity.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";

const enc = new TextEncoder();

/** A body of `chunks` lines, one every `everyMs`; `stall` never sends the last one. */
function slowBody(chunks: number, everyMs: number, stall = false): ReadableStream<Uint8Array> {
  let i = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (i === chunks) return c.close();
      if (stall && i === chunks - 1) return await new Promise(() => {});
      await new Promise((r) => timer = setTimeout(r, everyMs));
      c.enqueue(enc.encode(`line ${i++}\n`));
    },
    cancel() {
      clearTimeout(timer);
    },
  }, { highWaterMark: 0 });
}

/** `handler` behind a drain on a real server on a free port; closed with `close()`. */
function serveDrained(handler: (req: Request) => Response | Promise<Response>) {
  const drain = createDrain((req) => handler(req));
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, drain.fetch);
  return { drain, url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

Deno.test("stop: a streamed body still being sent is in flight until its last byte, and arrives whole", async () => {
  const s = serveDrained(() => new Response(slowBody(8, 60)));
  try {
    const res = await fetch(`${s.url}/export`);
    assert.equal(res.status, 200);
    // the answer's headers are out, its body is not: the request is still in flight
    assert.equal(s.drain.inFlight(), 1);
    let stoppedAt = 0;
    const stopped = s.drain.stop(5_000).then((r) => (stoppedAt = performance.now(), r));
    const text = await res.text();
    const readAt = performance.now();
    assert.equal(text, [...Array(8).keys()].map((i) => `line ${i}\n`).join(""));
    assert.deepEqual(await stopped, { unfinished: 0 });
    assert.ok(stoppedAt >= readAt - 5, "the stop waited for the body to be sent");
  } finally {
    await s.close();
  }
});

Deno.test("stop: a client that goes away mid-body does not hold the stop", async () => {
  const s = serveDrained(() => new Response(slowBody(1_000, 20)));
  try {
    const res = await fetch(`${s.url}/export`);
    const reader = res.body!.getReader();
    await reader.read();
    assert.equal(s.drain.inFlight(), 1);
    const stopped = s.drain.stop(10_000);
    await reader.cancel();
    const t0 = performance.now();
    assert.deepEqual(await stopped, { unfinished: 0 });
    assert.ok(performance.now() - t0 < 3_000, "the stop did not wait for the deadline");
  } finally {
    await s.close();
  }
});

Deno.test("stop: a body that never ends is given up at the deadline", async () => {
  const s = serveDrained(() => new Response(slowBody(3, 10, true)));
  const res = await fetch(`${s.url}/export`);
  const reader = res.body!.getReader();
  try {
    await reader.read();
    const t0 = performance.now();
    assert.deepEqual(await s.drain.stop(300), { unfinished: 1 });
    assert.ok(performance.now() - t0 >= 290);
  } finally {
    await reader.cancel();
    await s.close();
  }
});

Deno.test("stop: an audit export being downloaded is sent whole, its summary line last", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    await addRefundEntries(t, 40);
    const s = serveDrained((req) => t.app.fetch(req));
    try {
      const res = await fetch(`${s.url}/api/admin/payments/audit-log/export?format=jsonl`, {
        headers: otpHeaders(t, admin),
      });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      const stopped = s.drain.stop(5_000);
      let text = new TextDecoder().decode(first.value);
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        text += new TextDecoder().decode(r.value);
      }
      assert.deepEqual(await stopped, { unfinished: 0 });
      const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.at(-1).export_summary?.complete, true);
      assert.equal(lines.at(-1).export_summary.entries, lines.length - 1);
    } finally {
      await s.close();
    }
  });
});
