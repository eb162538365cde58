/**
 * Every log line written while a request is handled carries that request's id
 * (`request_id`, the X-Request-Id it is answered with), however deep in the
 * services it is written; Stripe's own request id is `stripe_request_id`, as
 * in audit entries, never `request_id`. A job's lines carry its id and kind.
 */
import assert from "node:assert/strict";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";

type Line = Record<string, unknown> & { msg: string };

Deno.test("a refund whose Stripe call fails: every log line names the request; Stripe's id is stripe_request_id", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const headers = await stepUpHeaders(w.t, w.operator);
    w.emu.faults.inject({ kind: "server_error", method: "POST", path: "/v1/refunds" });
    w.t.logs.length = 0;
    const res = await w.t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", headers, {
        transaction_id: pay.txnId,
        amount: 1200,
        reason: "requested_by_customer",
        note: "amex 378282246310005 and visa 4242424242424242",
      }),
    );
    assert.ok(res.status < 300, await res.clone().text());
    const requestId = res.headers.get("x-request-id");
    assert.match(String(requestId), /^req_/);
    assert.equal((await res.json()).note, "amex ****0005 and visa ****4242");
    const lines: Line[] = w.t.logs.map((l) => JSON.parse(l));
    const msgs = lines.map((l) => l.msg);
    const failed = lines.find((l) => l.msg === "stripe call failed");
    assert.ok(failed, `a failed call is logged: ${msgs}`);
    assert.ok(
      lines.some((l) => l.msg.startsWith("refund sent, Stripe's answer lost")),
      `the undecided refund is logged: ${msgs}`,
    );
    for (const line of lines) {
      assert.equal(line.request_id, requestId, JSON.stringify(line));
    }
    assert.ok("stripe_request_id" in failed, JSON.stringify(failed));
    assert.ok(w.t.logs.every((l) => !l.includes("378282246310005")));

    // reconciliation, a job: its lines name the job, not a request
    w.t.logs.length = 0;
    w.clock.advance(61_000);
    await w.runJobs();
    const jobLines: Line[] = w.t.logs.map((l) => JSON.parse(l));
    const call = jobLines.find((l) => l.msg === "stripe call");
    assert.ok(call, `the job calls Stripe: ${jobLines.map((l) => l.msg)}`);
    assert.equal(call.request_id, undefined, JSON.stringify(call));
    assert.match(String(call.stripe_request_id), /^req_/);
    assert.match(String(call.job_id), /^job_/);
    assert.equal(typeof call.job_kind, "string");
  });
});
