/**
 * The abuse suite's happy paths: a handful of valid, successful requests per
 * route on seeded data (payments through signed webhooks, a refund and one
 * that waits for approval, a dispute, a fraud alert, a retry, a two-person
 * account request), each answer's JSON body checked against the schema the
 * OpenAPI document declares for its route, status and content type.
 */
import assert from "node:assert/strict";
import { withRetryWorld } from "./helpers/retries.ts";
import { createAdmin, otpHeaders, stepUpHeaders, type TestAdmin } from "./helpers/identity.ts";
import { disputedPayment } from "./helpers/disputes.ts";
import { checkBody, responseChecker } from "./helpers/response_schema.ts";
import { systemContext } from "../domain/actor.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import type { RetryWorld } from "./helpers/retries.ts";
import { ROLES } from "../domain/permissions.ts";
import { addOpsAlert, type OpsAlert } from "../kv/ops_alerts.ts";
import { makeEvent, postEvent } from "./helpers/webhooks.ts";

type Factor = "token" | "otp" | "step_up";
// deno-lint-ignore no-explicit-any
type Json = any;

/** A caller that sends valid requests and checks every answer against the document. */
async function client(w: RetryWorld) {
  const doc = await (await w.t.app.request("/openapi.json")).json();
  const schemas = responseChecker(doc);
  const seen = new Map<string, number[]>();
  /** every successful read, to read again as each role */
  let lastEtag = "";
  const reads: {
    template: string;
    params?: Record<string, string>;
    query?: Record<string, string>;
  }[] = [];
  async function send(
    as: TestAdmin,
    method: string,
    template: string,
    options: {
      params?: Record<string, string>;
      query?: Record<string, string>;
      body?: unknown;
      /** a multipart/form-data body instead of JSON */
      form?: FormData;
      factor?: Factor;
      expect?: number[];
      /** request headers besides the credentials (`if-none-match`) */
      headers?: Record<string, string>;
    } = {},
  ): Promise<Json> {
    const factor = options.factor ?? "token";
    const headers: Record<string, string> = factor === "otp"
      ? otpHeaders(w.t, as)
      : factor === "step_up"
      ? await stepUpHeaders(w.t, as)
      : { authorization: `Bearer ${as.token}` };
    Object.assign(headers, options.headers);
    let payload: string | Uint8Array<ArrayBuffer> | undefined;
    if (options.form) {
      // sent as bytes: FormData's body type differs between Deno's and Node's typings
      const encoded = new Response(options.form);
      headers["content-type"] = encoded.headers.get("content-type")!;
      payload = new Uint8Array(await encoded.arrayBuffer());
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(options.body);
    }
    if (method !== "get") headers["idempotency-key"] = crypto.randomUUID();
    let url = template;
    for (const [k, v] of Object.entries(options.params ?? {})) {
      url = url.replace(`{${k}}`, encodeURIComponent(v));
    }
    const q = new URLSearchParams(options.query ?? {}).toString();
    if (q) url += `?${q}`;
    const label = `${as.role} ${method.toUpperCase()} ${url}`;
    const res = await w.t.app.request(url, {
      method: method.toUpperCase(),
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const status = res.status;
    const body = await checkBody(schemas, method, template, res, label);
    assert.ok(
      (options.expect ?? [200, 201]).includes(status),
      `${label}: ${status} ${JSON.stringify(body)}`,
    );
    if (method === "get" && factor === "token" && status === 200 && !options.headers) {
      reads.push({ template, params: options.params, query: options.query });
    }
    if (res.headers.has("etag")) lastEtag = res.headers.get("etag")!;
    seen.set(`${method} ${template}`, [...(seen.get(`${method} ${template}`) ?? []), status]);
    return body;
  }
  return { send, seen, doc, reads, etag: () => lastEtag };
}

const P = "/api/admin/payments";
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

Deno.test("response schemas: successful answers on every resource fit the OpenAPI document", async () => {
  await withRetryWorld(async (w) => {
    const { send, seen, doc, reads, etag } = await client(w);
    const { operator, admin } = w;
    const admin2 = await createAdmin(w.t, "admin");
    const paid = await w.pay(5_000);
    const big = await w.pay(80_000);

    // transactions and customers
    await send(admin, "get", `${P}/transactions`);
    await send(admin, "get", `${P}/transactions`, { query: { limit: "1" } });
    await send(admin, "get", `${P}/transactions/{id}`, { params: { id: paid.txnId } });
    await send(admin, "get", `${P}/customers/{id}`, { params: { id: paid.customer } });
    await send(admin, "get", `${P}/customers/{id}/payment-methods`, {
      params: { id: paid.customer },
    });

    // refunds: one sent, one waiting for a second person (approved), one rejected
    const sent = await send(operator, "post", `${P}/refunds`, {
      body: {
        transaction_id: paid.txnId,
        amount: 1_000,
        reason: "requested_by_customer",
        note: "n",
      },
      factor: "otp",
    });
    await w.deliver();
    await send(admin, "get", `${P}/refunds`);
    await send(admin, "get", `${P}/refunds/{id}`, { params: { id: sent.id } });
    const pending = await send(operator, "post", `${P}/refunds`, {
      body: {
        transaction_id: big.txnId,
        amount: 60_000,
        reason: "requested_by_customer",
        note: "n",
      },
      factor: "otp",
      expect: [202],
    });
    await send(admin, "get", "/api/admin/approvals");
    await send(admin, "post", `${P}/refunds/{id}/approve`, {
      params: { id: pending.id },
      body: { approval_hash: pending.approval?.hash, note: "checked" },
      factor: "otp",
    });
    await w.deliver();
    const big2 = await w.pay(70_000);
    const pending2 = await send(operator, "post", `${P}/refunds`, {
      body: { transaction_id: big2.txnId, amount: 55_000, reason: "duplicate", note: "x" },
      factor: "otp",
      expect: [202],
    });
    await send(admin, "post", `${P}/refunds/{id}/reject`, {
      params: { id: pending2.id },
      body: { note: "no" },
      factor: "otp",
    });
    await send(admin, "get", `${P}/refunds/{id}`, { params: { id: pending.id } });

    // a retry of a declined payment (early: each TOTP code moves the manual clock ahead of the
    // emulator's signing time, and a webhook signed over 300 s before the clock is refused)
    const failed = await w.failedPayment(3_000, "pm_card_chargeDeclinedInsufficientFunds");
    const retry = await send(operator, "post", `${P}/retries`, {
      body: { transaction_id: failed.txnId, payment_method: "pm_card_visa", note: "new card" },
      factor: "step_up",
      expect: [201, 202],
    });
    await w.deliver();
    await send(admin, "get", `${P}/retries`);
    await send(admin, "get", `${P}/retries/{id}`, { params: { id: retry.id } });

    // an authorization captured in part, another cancelled
    for (const capture of [true, false]) {
      const auth = await w.stripe.paymentIntents.create({
        amount: 4_000,
        currency: "usd",
        payment_method: "pm_card_visa",
        confirm: true,
        capture_method: "manual",
      });
      await w.deliver();
      const txn = await w.t.services.transactions.get(auth.id);
      const action = await send(
        operator,
        "post",
        `${P}/transactions/{id}/${capture ? "capture" : "cancel"}`,
        {
          params: { id: txn.id },
          body: capture
            ? { amount_to_capture: 3_000 }
            : { reason: "requested_by_customer", note: "order cancelled" },
          factor: "otp",
          expect: [201, 202],
        },
      );
      await w.deliver();
      await send(admin, "get", `${P}/transactions/{id}`, { params: { id: txn.id } });
      await send(admin, "get", `${P}/authorizations/{id}`, { params: { id: action.id } });
    }

    // a dispute: read, assign, note, evidence, sync, accept
    const { dispute } = await disputedPayment(w);
    await send(admin, "get", `${P}/disputes`);
    await send(admin, "get", `${P}/disputes/{id}`, { params: { id: dispute.id } });
    await send(operator, "patch", `${P}/disputes/{id}`, {
      params: { id: dispute.id },
      body: { assignee: operator.id },
    });
    await send(operator, "post", `${P}/disputes/{id}/notes`, {
      params: { id: dispute.id },
      body: { text: "called the customer" },
    });
    await send(operator, "put", `${P}/disputes/{id}/evidence`, {
      params: { id: dispute.id },
      body: { product_description: "a lamp", customer_name: "Buyer" },
    });
    await send(admin, "post", `${P}/disputes/sync`, {
      body: { dispute_id: dispute.stripe_dispute },
    });
    await send(operator, "post", `${P}/disputes/{id}/accept`, {
      params: { id: dispute.id },
      body: { note: "goods not shipped" },
      factor: "otp",
      expect: [200, 202],
    });
    await w.deliver();
    await send(admin, "get", `${P}/disputes/{id}`, { params: { id: dispute.id } });

    // a second dispute: an evidence file, then the submission
    const { dispute: other } = await disputedPayment(w, 3_100);
    await send(operator, "put", `${P}/disputes/{id}/evidence`, {
      params: { id: other.id },
      body: { product_description: "a lamp", customer_name: "Buyer" },
    });
    const form = new FormData();
    form.append("file", new Blob([PNG], { type: "image/png" }), "receipt.png");
    form.append("evidence_field", "receipt");
    await send(operator, "post", `${P}/disputes/{id}/files`, { params: { id: other.id }, form });
    await send(operator, "post", `${P}/disputes/{id}/submit`, {
      params: { id: other.id },
      factor: "otp",
      expect: [200, 202],
    });
    await w.deliver();

    // a fraud alert on the first payment
    const raised = await raiseAlerts(
      {
        kv: w.t.kv,
        audit: w.t.services.audit,
        newId: w.t.services.newId,
        now: () => w.clock.now(),
      },
      systemContext("test"),
      { subject: paid.customer, customer: paid.customer, card_fingerprint: null, customers: [] },
      [{
        rule: "velocity",
        level: "alert",
        points: 50,
        severity: "high",
        transaction_id: paid.txnId,
        at: new Date(w.clock.now()).toISOString(),
        rule_version: 1,
        shadow: false,
        evidence: {},
      }],
      () => ({}),
    );
    const alert = raised.alerts[0];
    await send(admin, "get", `${P}/fraud/alerts`);
    await send(admin, "get", `${P}/fraud/alerts/{id}`, { params: { id: alert } });
    await send(admin, "patch", `${P}/fraud/alerts/{id}`, {
      params: { id: alert },
      body: { status: "investigating", assignee: admin.id, note: "looking" },
    });
    await send(operator, "post", `${P}/fraud/alerts/{id}/refunds`, {
      params: { id: alert },
      body: { note: "card testing" },
      factor: "otp",
    });
    await w.deliver();
    await send(admin, "post", `${P}/fraud/analyze`, { body: { transaction_id: paid.txnId } });
    await send(admin, "post", `${P}/fraud/analyze`, { body: { customer_id: paid.customer } });
    await send(admin, "get", `${P}/fraud/rules`);
    await send(admin, "post", `${P}/fraud/rules/backtest`, { body: { days: 7 } });
    await send(admin, "put", `${P}/fraud/rules/{rule}`, {
      params: { rule: "velocity" },
      body: { alert_points: 45 },
      factor: "otp",
      expect: [200, 202],
    });
    // switching a rule off waits for a second admin, who approves it in the queue (another
    // rule: velocity's change above may still wait, and a rule's requests wait one at a time)
    const off = await send(admin, "put", `${P}/fraud/rules/{rule}`, {
      params: { rule: "amount_anomaly" },
      body: { enabled: false },
      factor: "otp",
      expect: [202],
    });
    const offId = off.approval?.id ?? off.pending_approval?.id ?? off.id;
    await send(admin2, "get", "/api/admin/approvals/{id}", { params: { id: offId } });
    await send(admin2, "post", "/api/admin/approvals/{id}/approve", {
      params: { id: offId },
      body: { note: "ok" },
      factor: "otp",
    });
    const snooze = await send(admin, "post", `${P}/fraud/snoozes`, {
      body: {
        customer: paid.customer,
        rule: "velocity",
        note: "known buyer",
        until: new Date(w.clock.now() + 86_400_000).toISOString(),
      },
      factor: "otp",
    });
    await send(admin, "get", `${P}/fraud/snoozes`);
    await send(admin, "delete", `${P}/fraud/snoozes/{id}`, {
      params: { id: snooze.id },
      factor: "otp",
    });
    await send(admin, "post", `${P}/fraud/sweeps`, { factor: "otp" });
    await send(admin, "get", `${P}/fraud/sweeps`);

    // webhook events, the audit log, ops alerts
    const events = await send(admin, "get", `${P}/webhook-events`);
    const event = (events.data.find((e: Json) => e.status === "processed") ?? events.data[0]).id;
    await send(admin, "get", `${P}/webhook-events/{id}`, { params: { id: event } });
    await send(admin, "post", `${P}/webhook-events/{id}/replay`, {
      params: { id: event },
      query: { force: "true" },
      factor: "otp",
    });
    // a malformed event fails (its object lacks what the service needs), then is dismissed
    const bad = makeEvent("payment_intent.succeeded", { id: "pi_bad", object: "payment_intent" });
    await (await postEvent(w.t.app, bad, { clock: w.clock })).body?.cancel();
    await w.t.services.webhooks.drain();
    await send(admin, "post", `${P}/webhook-events/{id}/dismiss`, {
      params: { id: bad.id },
      body: { note: "not Stripe's: sent by hand" },
      factor: "otp",
    });
    await send(admin, "get", `${P}/audit-log`);
    await send(admin, "get", `${P}/audit-log`, { query: { limit: "2" } });
    await send(admin, "get", `${P}/audit-log/verify`);
    await send(admin, "get", `${P}/audit-log/export`, { factor: "step_up" });
    await send(admin, "get", `${P}/audit-log/export`, {
      query: { format: "csv" },
      factor: "step_up",
    });
    const ops: OpsAlert = {
      id: w.t.services.newId("ops"),
      kind: "refund_failed_after_success",
      refund_id: sent.id,
      transaction_id: paid.txnId,
      stripe_refund: "re_test_1",
      amount: 1_000,
      currency: "usd",
      detail: "Stripe failed refund re_test_1 after reporting it succeeded",
      status: "open",
      created_at: new Date(w.clock.now()).toISOString(),
    };
    const write = w.t.kv.atomic();
    addOpsAlert(write, ops);
    assert.ok((await write.commit()).ok);
    await send(admin, "get", `${P}/ops-alerts`);
    await send(admin, "get", `${P}/ops-alerts/{id}`, { params: { id: ops.id } });
    await send(operator, "post", `${P}/ops-alerts/{id}/close`, {
      params: { id: ops.id },
      body: { note: "refunded by hand" },
      factor: "otp",
    });

    // identity: me, users, a two-person account request and its enrollment
    await send(operator, "get", "/api/admin/me");
    await send(admin, "get", "/api/admin/users");
    const viewer = await send(admin, "post", "/api/admin/users", {
      body: { email: "viewer@example.com", role: "viewer" },
      factor: "otp",
      expect: [201, 202],
    });
    const request = await send(admin, "post", "/api/admin/users", {
      body: { email: "new-operator@example.com", role: "operator" },
      factor: "otp",
      expect: [202],
    });
    const approvalId = request.approval?.id ?? request.id;
    await send(admin2, "get", "/api/admin/approvals/{id}", { params: { id: approvalId } });
    const approved = await send(admin2, "post", "/api/admin/approvals/{id}/approve", {
      params: { id: approvalId },
      body: { note: "ok" },
      factor: "otp",
    });
    assert.equal(approved.approval.status, "executed");
    await send(operator, "post", "/api/admin/enroll", {
      body: { code: approved.approval.handover.enrollment_code },
    });
    const viewerId = viewer.id ?? viewer.admin?.id;
    if (viewerId) {
      await send(admin, "get", "/api/admin/users/{id}", { params: { id: viewerId } });
      await send(admin, "patch", "/api/admin/users/{id}", {
        params: { id: viewerId },
        body: { status: "disabled" },
        factor: "otp",
      });
    }
    if (viewerId) {
      await send(admin, "patch", "/api/admin/users/{id}", {
        params: { id: viewerId },
        body: { role: "operator", status: "active" },
        factor: "otp",
        expect: [202],
      });
    }
    const reset = await send(admin, "post", "/api/admin/users/{id}/reset-2fa", {
      params: { id: admin2.id },
      factor: "otp",
      expect: [202],
    });
    await send(operator.role === "operator" ? admin2 : admin, "get", "/api/admin/approvals");
    const resetId = reset.approval?.id ?? reset.id;
    if (resetId) {
      await send(await createAdmin(w.t, "admin"), "post", "/api/admin/approvals/{id}/reject", {
        params: { id: resetId },
        body: { note: "not needed" },
        factor: "otp",
      });
    }
    await send(admin, "post", "/api/admin/users/{id}/rotate-token", {
      params: { id: admin2.id },
      factor: "otp",
      expect: [202],
    });
    await send(operator, "post", "/api/admin/step-up", {
      body: { code: otpHeaders(w.t, operator)["x-otp-code"] },
    });
    const rotated = await send(operator, "post", "/api/admin/me/rotate-token", { factor: "otp" });
    assert.ok(rotated.token);

    // each read again with the tag it answered: 304, declared, no body
    const seeded = [...reads];
    for (const r of seeded) {
      await send(admin, "get", r.template, r);
      await send(admin, "get", r.template, {
        ...r,
        headers: { "if-none-match": etag() },
        expect: [304],
      });
    }

    // the same reads as every role: what a role may see (masked or not) fits the document too
    for (const role of ROLES) {
      const reader = await createAdmin(w.t, role);
      for (const r of seeded) {
        await send(reader, "get", r.template, { ...r, expect: [200, 403] });
      }
    }

    // every admin route met at least one success
    const missing = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
      ["get", "post", "put", "patch", "delete"].filter((m) =>
        item[m] && path.startsWith("/api/admin") &&
        !(seen.get(`${m} ${path}`) ?? []).some((s) => s < 300)
      ).map((m) => `${m} ${path}`)
    );
    assert.deepEqual(missing, []);

    // every target the run's entries name is one the audit log's `target` filter takes (its
    // pattern in the document): a kind it refused could not be found by it
    const target = doc.paths[`${P}/audit-log`].get.parameters.find((p: Json) =>
      p.name === "target"
    );
    assert.equal(typeof target.schema.pattern, "string", "the target filter states its forms");
    const takes = new RegExp(target.schema.pattern);
    const named = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await w.t.services.audit.list({ limit: 100, ...(cursor ? { cursor } : {}) });
      for (const e of page.data) if (e.target) named.set(e.target.id, e.target.type);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    assert.ok(named.size > 20, `only ${named.size} targets named`);
    const refused = [...named].filter(([id]) => !takes.test(id)).map(([id, type]) =>
      `${type} ${id}`
    );
    assert.deepEqual(refused, []);
  });
});

Deno.test("response schemas: a body off the declared schema fails the check", async () => {
  await withRetryWorld(async (w) => {
    const { doc } = await client(w);
    const schemas = responseChecker(doc);
    const me = await (await w.t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${w.admin.token}` },
    })).json();
    schemas.check("get", "/api/admin/me", 200, "application/json", me, "me");
    const bad = [
      { ...me, role: "root" },
      { ...me, created_at: "yesterday" },
      Object.fromEntries(Object.entries(me).filter(([k]) => k !== "id")),
    ];
    for (const body of bad) {
      assert.throws(() =>
        schemas.check("get", "/api/admin/me", 200, "application/json", body, "x")
      );
    }
    assert.throws(() => schemas.check("get", "/api/admin/me", 418, "application/json", me, "x"));
  });
});

Deno.test("response headers: one the document does not declare, or a declared required one missing, fails the check", async () => {
  await withRetryWorld(async (w) => {
    const { doc } = await client(w);
    const schemas = responseChecker(doc);
    const res = await w.t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${w.admin.token}` },
    });
    await res.body?.cancel();
    assert.ok(res.headers.get("etag"));
    schemas.checkHeaders("get", "/api/admin/me", res, "me");
    const headers = (change: (h: Headers) => void) => {
      const h = new Headers(res.headers);
      change(h);
      return new Response(null, { status: 200, headers: h });
    };
    for (
      const wrong of [
        headers((h) => h.set("location", "/elsewhere")),
        headers((h) => h.set("retry-after", "2")),
        headers((h) => h.delete("etag")),
        headers((h) => h.delete("x-request-id")),
      ]
    ) {
      assert.throws(() => schemas.checkHeaders("get", "/api/admin/me", wrong, "x"));
    }
    // an answer that shows a secret is no-store and carries no ETag, as the document says
    const secret = headers((h) => {
      h.delete("etag");
      h.set("cache-control", "no-store");
    });
    schemas.checkHeaders("get", "/api/admin/me", secret, "secret");
  });
});
