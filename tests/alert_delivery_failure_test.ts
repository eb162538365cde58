/**
 * A POST to ALERT_WEBHOOK_URL that fails is logged with the URL's host (its path, query and
 * userinfo masked: they can hold the webhook's secret), the cause and what to check (README,
 * Dispute workbench: `ALERT_WEBHOOK_URL`), not as `TypeError: fetch failed`.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { freePort } from "./helpers/kv_connect/mod.ts";
import { runJobs } from "../services/background.ts";
import { raiseOpsAlert } from "../services/ops_alerts.ts";
import { systemContext } from "../domain/actor.ts";
import { describeFetchFailure, maskedAlertUrl } from "../services/alert_delivery_failure.ts";

/** where a webhook URL keeps its secret: never in a log line */
const SECRETS = ["hunter2", "T0KEN-IN-PATH", "q-secret"];
const url = (origin: string) =>
  origin.replace("://", "://ops:hunter2@") + "/services/T0KEN-IN-PATH?sig=q-secret";

async function raise(t: TestApp): Promise<void> {
  await t.services.audit.commit(systemContext("test"), (op) => {
    const entry = raiseOpsAlert(
      op,
      { newId: t.services.newId, log: t.deps.log },
      { kind: "dispute_due_soon", detail: "due in 72 h", dispute_id: "dsp_F" },
      new Date(t.clock.now()).toISOString(),
      { type: "dispute", id: "dsp_F" },
    );
    return Promise.resolve({ value: null, audit: [entry] });
  });
}

/** The `error` of the "job failed" line the delivery's failure logged. */
async function deliveryError(webhookUrl: string): Promise<string> {
  let error = "";
  await withTestApp(async (t) => {
    await raise(t);
    assert.deepEqual(await runJobs(t.services), { ran: 0, failed: 1, dead: 0 });
    const line = t.logs.map((l) => JSON.parse(l)).find((l) =>
      l.msg === "job failed; it runs again"
    );
    assert.ok(line, t.logs.join("\n"));
    assert.equal(line.kind, "ops_alert.deliver");
    error = `${line.error.name}: ${line.error.message}`;
    for (const secret of SECRETS) assert.ok(!t.logs.join("\n").includes(secret), secret);
  }, { env: { ALERT_WEBHOOK_URL: webhookUrl, LOG_FORMAT: "json" } });
  return error;
}

Deno.test("a refused connection names the host, the port nobody listens on and what to check", async () => {
  const port = freePort();
  const error = await deliveryError(url(`http://127.0.0.1:${port}`));
  assert.match(
    error,
    new RegExp(
      `^AlertDeliveryError: ops alert ops_\\w+ not delivered to ALERT_WEBHOOK_URL ` +
        `\\(http://127\\.0\\.0\\.1:${port}/…\\): connection refused \\(nothing listens on port ` +
        `${port}\\): check that the receiver runs and listens there`,
    ),
  );
  assert.doesNotMatch(error, /fetch failed/);
});

Deno.test("a status other than 2xx is named with what it means", async () => {
  for (
    const [status, meaning] of [[503, /the receiver is failing/], [404, /the path in/]] as const
  ) {
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      () => new Response("no", { status }),
    );
    try {
      const error = await deliveryError(url(`http://127.0.0.1:${server.addr.port}`));
      assert.match(error, new RegExp(`\\(http://127\\.0\\.0\\.1:\\d+/…\\): answered ${status}`));
      assert.match(error, meaning);
    } finally {
      await server.shutdown();
    }
  }
});

Deno.test("https:// to a receiver that speaks plain HTTP is told as a failed TLS handshake", async () => {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response(),
  );
  try {
    const error = await deliveryError(url(`https://127.0.0.1:${server.addr.port}`));
    assert.match(error, /\(https:\/\/127\.0\.0\.1:\d+\/…\): the TLS handshake failed/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a timeout and a name that does not resolve are told as such, from the errors fetch throws", async () => {
  const hanging = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Promise<Response>((r) => setTimeout(() => r(new Response()), 300)),
  );
  try {
    const slow = `http://127.0.0.1:${hanging.addr.port}/x`;
    const error = await fetch(slow, { signal: AbortSignal.timeout(50) }).then(() => null, (e) => e);
    assert.match(describeFetchFailure(slow, error), /^no answer within 10 s \(timeout\)/);
  } finally {
    await hanging.shutdown();
  }
  // Deno's own DNS refusal (Deno 2.9 wraps it: "fetch failed", its cause naming the whole URL)
  const dns = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (https://alerts.invalid/services/T0KEN-IN-PATH): client " +
        "error (Connect): dns error: failed to lookup address information: Name or service not known",
    ),
  });
  const told = describeFetchFailure("https://alerts.invalid/services/T0KEN-IN-PATH", dns);
  assert.match(told, /^its host name does not resolve \(DNS\)/);
  assert.doesNotMatch(told, /T0KEN/);
  // anything else: Deno's words, the URL in them masked
  const other = describeFetchFailure(
    "https://alerts.example/services/T0KEN-IN-PATH",
    new TypeError("fetch failed", {
      cause: new Error(
        "error sending request for url (https://alerts.example/services/T0KEN-IN-PATH): odd",
      ),
    }),
  );
  assert.match(other, /the request failed \(.*https:\/\/alerts\.example\/….*odd\)/);
  assert.doesNotMatch(other, /T0KEN/);
});

Deno.test("the URL is logged as its scheme, host and port only", () => {
  assert.equal(maskedAlertUrl("https://hooks.example.com"), "https://hooks.example.com");
  assert.equal(
    maskedAlertUrl("https://u:p@hooks.example.com:8443/a/b?c=d"),
    "https://hooks.example.com:8443/…",
  );
});
