/**
 * payops_stripe_requests_total's `status` is what the service got (README,
 * Stripe outages): `none` for a timeout or a dropped answer, even when the
 * answer's status line arrived before the connection broke, as the log line
 * (`status: null`) says.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";

const METRICS_TOKEN = "scrape-token-0123456789";

Deno.test("a refund whose answer is dropped mid-body counts as status none, not 200", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    w.emu.faults.inject({ method: "POST", path: "/v1/refunds", kind: "act_then_drop" });
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", await stepUpHeaders(w.t, w.operator), {
        transaction_id: pay.txnId,
        amount: 100,
        reason: "requested_by_customer",
        note: "dropped answer",
      }),
    );
    assert.equal(res.status, 202, await res.text());
    const scraped = await w.t.app.request("/metrics", {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const f = parsePrometheus(await scraped.text());
    assert.equal(
      sampleValue(f, "payops_stripe_requests_total", { label: "refunds.create", status: "none" }),
      1,
    );
    assert.equal(
      sampleValue(f, "payops_stripe_requests_total", { label: "refunds.create", status: "200" }),
      undefined,
    );
    const line = w.t.logs.map((l) => JSON.parse(l)).find((l) =>
      l.msg === "stripe call failed" && l.label === "refunds.create"
    );
    assert.equal(line?.status, null);
  }, { env: { METRICS_TOKEN } });
});
