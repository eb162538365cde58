/**
 * A stopping server's refusals are answered like any other request (README,
 * "Quick start" and "Metrics"): `503 unavailable` with `Retry-After`, our
 * `X-Request-Id`, one access-log line and a count in
 * `payops_http_requests_total` under the route's template; `GET /metrics`
 * is still served while the stop waits, so a scrape sees them, and so is
 * `GET /healthz` (liveness: the process is alive), while `/readyz` fails.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { createDrain, type Drain } from "../routes/drain.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";

const info = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 4000 },
} as Deno.ServeHandlerInfo;

Deno.test("while stopping: refusals carry a request id, are logged and counted; /metrics and /healthz still answer", async () => {
  let drain: Drain | undefined;
  // wired as main.ts wires them: the app asks the drain whether the server is stopping
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    drain = createDrain((req, i) => t.app.fetch(req, i));
    assert.equal((await drain.fetch(new Request("http://x/healthz"), info)).status, 200);
    assert.deepEqual(await drain.stop(100), { unfinished: 0 });

    // liveness stays 200 while draining: the process is alive (README, "Stripe outages")
    const alive = await drain.fetch(new Request("http://x/healthz"), info);
    assert.equal(alive.status, 200);
    assert.deepEqual(await alive.json(), { ok: true });
    const head = await drain.fetch(new Request("http://x/healthz", { method: "HEAD" }), info);
    assert.equal(head.status, 200);

    const late = await drain.fetch(new Request("http://x/readyz"), info);
    assert.equal(late.status, 503);
    assert.equal(late.headers.get("content-type"), "application/problem+json");
    assert.equal(late.headers.get("retry-after"), "2");
    assert.equal(late.headers.get("connection"), "close");
    const requestId = late.headers.get("x-request-id");
    assert.match(String(requestId), /^req_/);
    const body = await late.json();
    assert.equal(body.code, "unavailable");
    assert.equal(body.request_id, requestId);
    const me = await drain.fetch(
      new Request("http://x/api/admin/me", { headers: authHeaders(admin) }),
      info,
    );
    assert.equal(me.status, 503);
    await me.body?.cancel();

    const lines = t.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
    const refused = lines.filter((l) => l.status === 503);
    assert.deepEqual(refused.map((l) => l.path), ["/readyz", "/api/admin/me"]);
    assert.equal(refused[0].request_id, requestId);

    const scrape = await drain.fetch(
      new Request("http://x/metrics", { headers: authHeaders(admin) }),
      info,
    );
    assert.equal(scrape.status, 200, "a scrape is answered while the stop waits");
    const families = parsePrometheus(await scrape.text());
    const count = (route: string, status: string) =>
      sampleValue(families, "payops_http_requests_total", { method: "GET", route, status });
    assert.equal(count("/readyz", "503"), 1);
    assert.equal(count("/healthz", "503"), undefined);
    assert.equal(count("/healthz", "200"), 2);
    assert.equal(count("/api/admin/me", "503"), 1);
  }, { stopping: () => drain!.stopping() });
});
