/**
 * /metrics series an alert rule is written against (README, Metrics): a cron's
 * last good run stays a series when a later run fails, so "how long since it
 * last worked" can be asked; and the ignored-events count is a series at 0
 * before the first event is ignored, so its first increase is seen.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";
import { timedCronRun } from "../services/metrics.ts";

const METRICS_TOKEN = "scrape-token-0123456789";

async function scrape(t: TestApp) {
  const res = await t.app.request("/metrics", {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  return parsePrometheus(await res.text());
}

const last = (f: ReturnType<typeof parsePrometheus>, outcome: string) =>
  sampleValue(f, "payops_cron_last_run_timestamp_seconds", { task: "reconcile-refunds", outcome });

Deno.test("a cron's last good run stays a series after a failed one, and the failure beside it", async () => {
  await withTestApp(async (t) => {
    const deps = t.services.deps;
    await timedCronRun(deps, "reconcile-refunds", () => Promise.resolve());
    const okAt = t.clock.now() / 1000;
    t.clock.advance(300_000);
    await assert.rejects(
      timedCronRun(deps, "reconcile-refunds", () => Promise.reject(new Error("kv down"))),
    );
    const failedAt = t.clock.now() / 1000;
    let f = await scrape(t);
    assert.equal(last(f, "ok"), okAt, "the last good run is still shown");
    assert.equal(last(f, "error"), failedAt);

    t.clock.advance(300_000);
    await timedCronRun(deps, "reconcile-refunds", () => Promise.resolve());
    f = await scrape(t);
    assert.equal(last(f, "ok"), t.clock.now() / 1000, "working again: newer than the failure");
    assert.equal(last(f, "error"), failedAt);
  }, { env: { METRICS_TOKEN } });
});

Deno.test("payops_webhook_events_ignored{reason=livemode_mismatch} is 0 before any event is ignored", async () => {
  await withTestApp(async (t) => {
    const f = await scrape(t);
    assert.equal(
      sampleValue(f, "payops_webhook_events_ignored", { reason: "livemode_mismatch" }),
      0,
    );
  }, { env: { METRICS_TOKEN } });
});
