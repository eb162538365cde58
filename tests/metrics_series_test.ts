/**
 * The series /metrics has (README, "Metrics"): none made by what a request
 * says (its method, its path), and those whose label values are known in
 * advance there from the first scrape at 0, so `rate()` / `increase()` see
 * their first increase: Stripe's requests to slow down by reason, periodic
 * task runs by task and outcome.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";
import { createMetrics } from "../core/metrics.ts";
import { knowCronTasks, timedCronRun } from "../services/metrics.ts";
import { createCallLog } from "../services/stripe/call_log.ts";
import { silentLogger } from "../core/log.ts";
import { ManualClock } from "../core/clock.ts";
import { openStore } from "../kv/open.ts";

const METRICS_TOKEN = "scrape-token-0123456789";
const THROTTLED = "payops_stripe_rate_limited_total";

async function scrapeSamples(app: TestApp["app"], name: string) {
  const res = await app.request("/metrics", {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  return parsePrometheus(await res.text()).get(name)?.samples ?? [];
}

Deno.test("a request's method and path cannot make new metric series", async () => {
  await withTestApp(async (t) => {
    for (let i = 0; i < 5; i++) {
      (await t.app.request("/healthz", { method: `FOO${i}` })).body?.cancel();
      (await t.app.request(`/api/admin/nope-${i}`)).body?.cancel();
      (await t.app.request(`/no/such/${i}`, { method: "PATCH" })).body?.cancel();
    }
    const requests = await scrapeSamples(t.app, "payops_http_requests_total");
    const methods = new Set(requests.map((s) => s.labels.method));
    assert.ok(!methods.has("FOO0"), [...methods].join());
    assert.ok(methods.has("OTHER"));
    const routes = new Set(requests.map((s) => s.labels.route));
    assert.deepEqual(
      [...routes].filter((r) => r !== "/healthz" && r !== "/metrics"),
      ["unmatched"],
      "no path of the request and no middleware's mount pattern",
    );
    const other = requests.filter((s) => s.labels.method === "OTHER");
    assert.deepEqual(other.map((s) => s.value), [5], "five odd methods, one series");
    const durations = await scrapeSamples(t.app, "payops_http_request_duration_seconds");
    const durationMethods = new Set(durations.map((s) => s.labels.method));
    assert.deepEqual([...durationMethods].sort(), ["GET", "OTHER", "PATCH"]);
  }, { env: { METRICS_TOKEN } });
});

Deno.test("payops_stripe_rate_limited_total is 0 for each reason before Stripe's first 429", async () => {
  await withRefundWorld(async (w) => {
    const scrape = async () => {
      const res = await w.t.app.request("/metrics", {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      return parsePrometheus(await res.text());
    };
    const before = await scrape();
    assert.equal(sampleValue(before, THROTTLED, { reason: "rate_limit" }), 0);
    assert.equal(sampleValue(before, THROTTLED, { reason: "lock_timeout" }), 0);

    const pay = await w.pay(5000);
    w.emu.faults.inject({ method: "POST", path: "/v1/refunds", kind: "rate_limit" });
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", await stepUpHeaders(w.t, w.operator), {
        transaction_id: pay.txnId,
        amount: 100,
        reason: "requested_by_customer",
        note: "one 429 first",
      }),
    );
    assert.equal(res.status, 201, await res.text());
    const after = await scrape();
    assert.equal(sampleValue(after, THROTTLED, { reason: "rate_limit" }), 1);
    assert.equal(sampleValue(after, THROTTLED, { reason: "lock_timeout" }), 0);
  }, { env: { METRICS_TOKEN } });
});

Deno.test("a 429 whose code Stripe has not used before counts as rate_limit, not a new series", async () => {
  const metrics = createMetrics();
  const callLog = createCallLog(silentLogger(), metrics);
  for (const code of ["rate_limit", "lock_timeout", "something_new", undefined]) {
    // Stripe's answer as the SDK turns it into an error
    const error = Stripe.errors.StripeError.generate({
      type: "invalid_request_error",
      code,
      message: "slow down",
      statusCode: 429,
    });
    callLog({ priority: "interactive", requests: [], repeatable: true }, {}, 1, error);
  }
  const f = parsePrometheus(await metrics.render());
  const reasons = f.get(THROTTLED)!.samples.map((s) => [s.labels.reason, s.value]);
  assert.deepEqual(reasons.sort(), [["lock_timeout", 1], ["rate_limit", 3]]);
});

Deno.test("payops_cron_runs_total is 0 for every task and outcome before the first run", async () => {
  const kv = await openStore(":memory:");
  try {
    const metrics = createMetrics();
    knowCronTasks(metrics, ["run-jobs", "audit-checkpoint"]);
    const runs = "payops_cron_runs_total";
    let f = parsePrometheus(await metrics.render());
    for (const task of ["run-jobs", "audit-checkpoint"]) {
      for (const outcome of ["ok", "error"]) {
        assert.equal(sampleValue(f, runs, { task, outcome }), 0, `${task} ${outcome}`);
      }
    }
    await timedCronRun(
      { kv, clock: new ManualClock(0), metrics },
      "run-jobs",
      () => Promise.resolve(),
    );
    f = parsePrometheus(await metrics.render());
    assert.equal(sampleValue(f, runs, { task: "run-jobs", outcome: "ok" }), 1);
    assert.equal(sampleValue(f, runs, { task: "run-jobs", outcome: "error" }), 0);
  } finally {
    kv.close();
  }
});
