import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { runJobs } from "../services/background.ts";
import { raiseOpsAlert } from "../services/ops_alerts.ts";
import { systemContext } from "../domain/actor.ts";
import { hex } from "../core/encoding.ts";
import { listJobs } from "../kv/jobs.ts";

const SECRET = "alert-secret-0123456789";

async function hmac(body: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
}

Deno.test("ops alerts are POSTed to ALERT_WEBHOOK_URL at least once, signed, retried with backoff", async () => {
  const received: { body: string; key: string | null; sig: string | null }[] = [];
  let failures = 1;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const body = await req.text();
    if (failures-- > 0) return new Response("down", { status: 503 });
    received.push({
      body,
      key: req.headers.get("idempotency-key"),
      sig: req.headers.get("x-payops-signature"),
    });
    return new Response("ok");
  });
  try {
    await withTestApp(async (t) => {
      const raise = (detail: string) =>
        t.services.audit.commit(systemContext("test"), (op) => {
          const entry = raiseOpsAlert(
            op,
            { newId: t.services.newId, log: t.deps.log },
            { kind: "dispute_due_soon", detail, dispute_id: "dsp_X" },
            new Date(t.clock.now()).toISOString(),
            { type: "dispute", id: "dsp_X" },
          );
          return Promise.resolve({
            value: (entry.after as { alert_id: string }).alert_id,
            audit: [entry],
          });
        });
      const first = await raise("due in 72 h");
      let result = await runJobs(t.services);
      assert.deepEqual(result, { ran: 0, failed: 1, dead: 0 });
      assert.equal(received.length, 0);
      result = await runJobs(t.services); // not due yet: backoff
      assert.deepEqual(result, { ran: 0, failed: 0, dead: 0 });
      t.clock.advance(5_000);
      const second = await raise("due in 24 h");
      result = await runJobs(t.services);
      assert.deepEqual(result, { ran: 2, failed: 0, dead: 0 });
      assert.deepEqual(received.map((r) => r.key).sort(), [first, second].sort());
      for (const r of received) {
        const body = JSON.parse(r.body);
        assert.equal(body.id, r.key);
        assert.equal(body.kind, "dispute_due_soon");
        assert.equal(r.sig, `sha256=${await hmac(r.body)}`);
      }
      assert.deepEqual(await runJobs(t.services), { ran: 0, failed: 0, dead: 0 });
      assert.equal((await listJobs(t.kv)).length, 0);
      assert.equal(received.length, 2);
    }, {
      env: {
        ALERT_WEBHOOK_URL: `http://127.0.0.1:${server.addr.port}/alerts`,
        ALERT_WEBHOOK_SECRET: SECRET,
      },
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("without ALERT_WEBHOOK_URL no delivery job is made", async () => {
  await withTestApp(async (t) => {
    await t.services.audit.commit(systemContext("test"), (op) => {
      const entry = raiseOpsAlert(
        op,
        { newId: t.services.newId, log: t.deps.log },
        { kind: "dispute_due_soon", detail: "x" },
        new Date(t.clock.now()).toISOString(),
        { type: "dispute", id: "dsp_Y" },
      );
      return Promise.resolve({ value: null, audit: [entry] });
    });
    assert.equal(await t.services.alertDelivery.enqueue(), 0);
    assert.equal((await listJobs(t.kv)).length, 0);
  });
});
