/** GET /metrics: Prometheus text that a strict parser accepts, with the figures an operator watches. */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";
import { createMetrics } from "../core/metrics.ts";
import { timedCronRun } from "../services/metrics.ts";
import { jobHandlers } from "../services/mod.ts";
import { keys } from "../kv/keys.ts";

const METRICS_TOKEN = "scrape-token-0123456789";

async function scrape(app: TestApp["app"]) {
  const res = await app.request("/metrics", {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheus(await res.text());
}

Deno.test("the registry renders counters, gauges and histograms a strict parser accepts", async () => {
  assert.equal(await createMetrics().render(), "", "nothing registered: an empty exposition");
  const m = createMetrics();
  m.counter("x_total", "help with \\ and\nnewline").inc({ path: 'a"b\\c\nd' }, 2);
  m.gauge("y", "a gauge").set({}, 1.5);
  const h = m.histogram("z_seconds", "a histogram", [0.1, 1]);
  h.observe({ k: "v" }, 0.05);
  h.observe({ k: "v" }, 0.5);
  h.observe({ k: "v" }, 7);
  const families = parsePrometheus(await m.render());
  assert.equal(sampleValue(families, "x_total", { path: 'a"b\\c\nd' }), 2);
  assert.equal(sampleValue(families, "y"), 1.5);
  assert.equal(sampleValue(families, "z_seconds_bucket", { le: "0.1" }), 1);
  assert.equal(sampleValue(families, "z_seconds_bucket", { le: "1" }), 2);
  assert.equal(sampleValue(families, "z_seconds_bucket", { le: "+Inf" }), 3);
  assert.equal(sampleValue(families, "z_seconds_sum"), 7.55);
  assert.throws(() => m.gauge("x_total", "again"), /already a counter/);
  assert.throws(() => parsePrometheus("x 1"), /newline/);
  assert.throws(() => parsePrometheus("x 1\n"), /before its # TYPE/);
});

Deno.test("GET /metrics needs METRICS_TOKEN or an admin; others are refused", async () => {
  await withTestApp(async (t) => {
    assert.equal((await t.app.request("/metrics")).status, 401);
    const wrong = await t.app.request("/metrics", { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401);
    const viewer = await createAdmin(t, "viewer");
    const refused = await t.app.request("/metrics", { headers: authHeaders(viewer) });
    assert.equal(refused.status, 403);
    const admin = await createAdmin(t, "admin");
    assert.equal((await t.app.request("/metrics", { headers: authHeaders(admin) })).status, 200);
    assert.equal((await scrape(t.app)).size > 5, true);
  }, { env: { METRICS_TOKEN } });
});

Deno.test("a wrong bearer on /metrics is told what /metrics takes, not what an admin route takes", async () => {
  const detail = async (app: TestApp["app"], bearer: string) => {
    const res = await app.request("/metrics", { headers: { authorization: `Bearer ${bearer}` } });
    assert.equal(res.status, 401);
    return (await res.json()).detail as string;
  };
  let stale = "";
  await withTestApp(async (t) => {
    // a scraper configured with last month's METRICS_TOKEN
    stale = await detail(t.app, "scrape-token-old-0123456789");
    assert.match(stale, /neither METRICS_TOKEN nor an admin's API token/);
    assert.doesNotMatch(stale, /start with pot_/);
    // an admin token cut off when pasted: it does start with pot_
    const cut = await detail(t.app, "pot_abc");
    assert.doesNotMatch(cut, /start with pot_/);
    assert.match(cut, /pot_ and 43 characters/);
  }, { env: { METRICS_TOKEN } });
  // without METRICS_TOKEN: the same answer (a caller cannot tell whether one is set), which
  // still says how to set one
  await withTestApp(async (t) => {
    const unset = await detail(t.app, "scrape-token-old-0123456789");
    assert.match(unset, /where none is set, set one/);
    assert.equal(unset, stale);
  });
});

Deno.test("requests are counted by route template and status, with latency histograms", async () => {
  await withTestApp(async (t) => {
    await t.app.request("/healthz");
    await t.app.request("/healthz");
    await t.app.request("/no/such/route");
    const viewer = await createAdmin(t, "viewer");
    await t.app.request("/api/admin/payments/refunds/rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", {
      headers: authHeaders(viewer),
    });
    const f = await scrape(t.app);
    const req = "payops_http_requests_total";
    assert.equal(sampleValue(f, req, { route: "/healthz", status: "200" }), 2);
    assert.equal(sampleValue(f, req, { route: "unmatched", status: "404" }), 1);
    assert.equal(
      sampleValue(f, req, { route: "/api/admin/payments/refunds/:id", status: "404" }),
      1,
      "the template, not the id",
    );
    const durations = "payops_http_request_duration_seconds_count";
    assert.equal(sampleValue(f, durations, { route: "/healthz" }), 2);
    for (const gauge of ["payops_jobs_dead", "payops_ops_alerts_open"]) {
      assert.ok(f.has(gauge), gauge);
    }
    assert.equal(sampleValue(f, "payops_webhook_events", { status: "dead" }), 0);
  }, { env: { METRICS_TOKEN } });
});

Deno.test("Stripe calls, budget waits, webhook lag, reconciliation backlog and cron runs show up", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const headers = await stepUpHeaders(w.t, w.operator);
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", headers, {
        transaction_id: pay.txnId,
        amount: 100,
        reason: "requested_by_customer",
        note: "metrics",
      }),
    );
    assert.equal(res.status, 201);
    await timedCronRun(w.t.services.deps, "audit-checkpoint", () => Promise.resolve());
    await assert.rejects(
      timedCronRun(w.t.services.deps, "reconcile-refunds", () => Promise.reject(new Error("x"))),
    );
    const f = await scrape(w.t.app);
    assert.ok(
      (sampleValue(f, "payops_stripe_requests_total", { status: "200" }) ?? 0) >= 1,
      "the refund's Stripe call is counted",
    );
    assert.ok((sampleValue(f, "payops_stripe_budget_wait_seconds_count") ?? 0) >= 1);
    assert.ok((sampleValue(f, "payops_webhook_intake_lag_seconds_count") ?? 0) >= 1);
    assert.equal(
      sampleValue(f, "payops_refunds_reconciliation_backlog", { status: "processing" }),
      0,
    );
    assert.equal(sampleValue(f, "payops_cron_runs_total", { task: "reconcile-refunds" }), 1);
    assert.equal(
      sampleValue(f, "payops_cron_runs_total", { task: "audit-checkpoint", outcome: "ok" }),
      1,
    );
    assert.ok(
      sampleValue(f, "payops_cron_last_run_timestamp_seconds", {
        task: "reconcile-refunds",
        outcome: "error",
      }),
    );
  }, { env: { METRICS_TOKEN } });
});

Deno.test("dead-lettered jobs are counted by kind", async () => {
  await withTestApp(async (t) => {
    for (const [id, kind] of [["job_1", "webhook.process"], ["job_2", "webhook.process"]]) {
      await t.kv.set(keys.deadJob(id), { id, kind, dead_at: 1, last_error: "x" });
    }
    await t.kv.set(keys.deadJob("job_3"), { id: "job_3", kind: "refund.reconcile", dead_at: 1 });
    const f = await scrape(t.app);
    assert.equal(sampleValue(f, "payops_jobs_dead", { kind: "webhook.process" }), 2);
    assert.equal(sampleValue(f, "payops_jobs_dead", { kind: "refund.reconcile" }), 1);
  }, { env: { METRICS_TOKEN } });
});

Deno.test("a fresh process shows every job kind it handles at 0, before any job of it", async () => {
  await withTestApp(async (t) => {
    const f = await scrape(t.app);
    const kinds = Object.keys(jobHandlers(t.services));
    assert.ok(kinds.includes("refund.reconcile") && kinds.includes("webhook.process"), `${kinds}`);
    for (const kind of kinds) {
      for (const gauge of ["payops_jobs_waiting", "payops_jobs_overdue", "payops_jobs_dead"]) {
        assert.equal(sampleValue(f, gauge, { kind }), 0, `${gauge}{kind="${kind}"}`);
      }
    }
  }, { env: { METRICS_TOKEN } });
});
