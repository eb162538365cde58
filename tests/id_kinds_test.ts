/**
 * Ids of the wrong kind (README "API": bad input is 422 naming the field, never an empty page):
 * every id field of every operation in the OpenAPI document, path, query and body, takes only
 * the id kinds it can hold, says them in its `pattern`, and refuses another kind with a 422 on
 * that field whose message names it and each accepted form. Walked from the document, so a new
 * route is covered when it is added; then the cases an acceptance test found, one by one.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  jsonRequest,
  otpHeaders,
  type TestAdmin,
} from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { PNG, uploadRequest } from "./helpers/disputes.ts";
import type { Role } from "../domain/permissions.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Names that hold an id whatever their example says ("who" filters, customers). */
const ID_NAMES = new Set(["id", "customer", "assignee", "requested_by", "actor", "target"]);
/** Fields that look like ids but hold something else, and why. */
const NOT_IDS: Record<string, string> = {
  "POST /api/admin/enroll body code": "an enrollment code, a secret, not a record's id",
  "PUT /api/admin/payments/disputes/{id}/evidence body duplicate_charge_id":
    "a text field of Stripe's evidence (up to 5,000 characters), checked as text",
};
/** Ids of kinds no field should take unless its pattern says so, and not an id at all. */
const WRONG = ["dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", "rty_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", "hello"];

interface IdField {
  label: string;
  method: string;
  path: string;
  where: "path" | "query" | "body";
  name: string;
  schema: Json;
  op: Json;
}

function isIdLike(name: string, schema: Json): boolean {
  if (!schema || schema.enum || !(schema.type === "string" || schema.type?.includes?.("string"))) {
    return false;
  }
  return ID_NAMES.has(name) || name.endsWith("_id") ||
    (typeof schema.example === "string" && /^[a-z]{2,4}_[A-Za-z0-9]/.test(schema.example));
}

function idFields(doc: Json): IdField[] {
  const resolve = (s: Json): Json =>
    s?.$ref ? resolve(doc.components.schemas[s.$ref.split("/").pop()]) : s;
  const out: IdField[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const op = item[method];
      if (!op) continue;
      const add = (where: IdField["where"], name: string, schema: Json) => {
        const label = `${method.toUpperCase()} ${path} ${where} ${name}`;
        if (isIdLike(name, schema) && !(label in NOT_IDS)) {
          out.push({ label, method, path, where, name, schema, op });
        }
      };
      for (const p of op.parameters ?? []) {
        if (p.in === "path" || p.in === "query") add(p.in, p.name, resolve(p.schema));
      }
      const body = resolve(op.requestBody?.content?.["application/json"]?.schema);
      for (const [name, s] of Object.entries<Json>(body?.properties ?? {})) {
        const one = resolve(s);
        add("body", name, one.anyOf ? one.anyOf.find((a: Json) => a.type === "string") : one);
      }
    }
  }
  return out;
}

/**
 * What a message must name for each alternative of `pattern` (`^(txn_[…]{26}|pi_[…]|me)$`):
 * the literal head of a form (`txn_`, `card:`), or a literal value whole (`me`).
 */
function formsOf(pattern: string): string[] {
  const inner = pattern.replace(/^\^\(?/, "").replace(/\)?\$$/, "");
  return inner.split("|").map((alt) =>
    alt.includes("[") ? alt.slice(0, alt.indexOf("[")) : alt.replace(/\\\./g, ".")
  );
}

/** A request with `field` set to `value` and everything else as the document's examples. */
function requestFor(doc: Json, f: IdField, value: string) {
  let path = f.path;
  for (const p of f.op.parameters ?? []) {
    if (p.in !== "path") continue;
    const v = f.where === "path" && p.name === f.name ? value : String(p.schema?.example);
    path = path.replace(`{${p.name}}`, encodeURIComponent(v));
  }
  if (f.where === "query") path += `?${f.name}=${encodeURIComponent(value)}`;
  let body: Json = undefined;
  if (f.op.requestBody?.content?.["application/json"]) {
    const s = f.op.requestBody.content["application/json"].schema;
    const named = s.$ref ? doc.components.schemas[s.$ref.split("/").pop()] : s;
    body = { ...(named.example ?? {}) };
    if (f.where === "body") body[f.name] = value;
  }
  return { path, body };
}

Deno.test("every id field in the OpenAPI document refuses another kind of id: 422 on that field naming the forms it takes", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const fields = idFields(doc);
    // the walk finds the fields it must (a heuristic that found nothing would pass)
    for (
      const label of [
        "GET /api/admin/payments/retries query transaction_id",
        "POST /api/admin/payments/retries body transaction_id",
        "POST /api/admin/approvals/{id}/approve path id",
        "POST /api/admin/payments/transactions/{id}/capture path id",
        "GET /api/admin/payments/fraud/snoozes query customer",
        "PATCH /api/admin/payments/disputes/{id} body assignee",
        "GET /api/admin/payments/audit-log query target",
        "GET /api/admin/payments/audit-log/export query target",
      ]
    ) assert.ok(fields.some((f) => f.label === label), `not walked: ${label}`);
    const admins = new Map<Role, TestAdmin>();
    const failures: string[] = [];
    for (const f of fields) {
      if (typeof f.schema.pattern !== "string") {
        failures.push(`${f.label}: no pattern in the document (takes any string)`);
        continue;
      }
      const accepts = new RegExp(f.schema.pattern);
      const roles: Role[] = f.op["x-roles"];
      const role = roles.includes("admin") ? "admin" : roles[0];
      const admin = admins.get(role) ?? await createAdmin(t, role);
      admins.set(role, admin);
      for (const wrong of WRONG.filter((w) => !accepts.test(w))) {
        t.clock.advance(1000); // well inside the token's throttle (README "Throttles")
        const problem = await send(t, doc, f, wrong, admin);
        if (problem) failures.push(`${f.label} = ${wrong}: ${problem}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

async function send(t: TestApp, doc: Json, f: IdField, wrong: string, admin: TestAdmin) {
  const { path, body } = requestFor(doc, f, wrong);
  const multipart = f.op.requestBody?.content?.["multipart/form-data"];
  const res = await t.app.request(
    path,
    multipart
      ? await uploadRequest(admin.token, new Blob([PNG], { type: "image/png" }), "a.png")
      : jsonRequest(f.method.toUpperCase(), authHeaders(admin), body),
  );
  const answer = await res.json().catch(() => null);
  if (res.status !== 422) return `${res.status} ${answer?.detail ?? ""}`;
  const error = answer.errors?.find((e: { path: string }) => e.path === `${f.where}.${f.name}`);
  if (!error) return `422 on ${JSON.stringify(answer.errors)}, not on ${f.where}.${f.name}`;
  if (!new RegExp(`\\b${f.name}\\b`).test(error.message)) {
    return `does not name it: ${error.message}`;
  }
  const unnamed = formsOf(f.schema.pattern).filter((form) =>
    /[_:]$/.test(form)
      ? !error.message.includes(form)
      : !new RegExp(`\\b${form}\\b`).test(error.message)
  );
  return unnamed.length ? `does not name ${unnamed.join(", ")}: ${error.message}` : null;
}

const BASE = "/api/admin/payments";
const DSP = "dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";

async function refusal(res: Response, field: string): Promise<string> {
  const body = await res.json();
  assert.equal(res.status, 422, JSON.stringify(body));
  const error = body.errors.find((e: { path: string }) => e.path === field);
  assert.ok(error, `no error on ${field}: ${JSON.stringify(body.errors)}`);
  return error.message;
}

Deno.test("list filters refuse an id of another kind (422 naming the field), never an empty page", async () => {
  await withTestApp(async (t) => {
    const h = authHeaders(await createAdmin(t, "admin"));
    for (const value of [DSP, "hello"]) {
      const message = await refusal(
        await t.app.request(`${BASE}/retries?transaction_id=${value}`, { headers: h }),
        "query.transaction_id",
      );
      assert.match(message, /^transaction_id must be .*txn_.*pi_….*ch_…/);
    }
    for (const list of ["disputes", "fraud/alerts", "fraud/snoozes"]) {
      const message = await refusal(
        await t.app.request(`${BASE}/${list}?customer=hello`, { headers: h }),
        "query.customer",
      );
      assert.match(message, /^customer must be a Stripe customer id \(cus_…\)/, list);
    }
    // a well-formed id of a payment known nowhere still lists nothing, as before
    const none = await t.app.request(`${BASE}/retries?transaction_id=pi_Unknown1`, { headers: h });
    assert.equal(none.status, 200);
    assert.deepEqual((await none.json()).data, []);
  });
});

Deno.test("a capture or an approval of an id of another kind is 422 on path.id, not 404", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const capture = await t.app.request(
      `${BASE}/transactions/${DSP}/capture`,
      jsonRequest("POST", await otpHeaders(t, admin), {}),
    );
    assert.match(await refusal(capture, "path.id"), /^id must be .*txn_.*pi_…, ch_…/);
    const approve = await t.app.request(
      `/api/admin/approvals/${DSP}/approve`,
      jsonRequest("POST", await otpHeaders(t, admin), {}),
    );
    const message = await refusal(approve, "path.id");
    assert.match(
      message,
      /^id must be a two-person request id, apr_… .* or a refund id, rfd_…/,
    );
    // the kinds the queue holds pass the check: an unknown one is 404 as before
    for (const id of ["apr_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R"]) {
      const res = await t.app.request(`/api/admin/approvals/${id}`, {
        headers: authHeaders(admin),
      });
      assert.equal(res.status, 404, id);
      await res.body?.cancel();
    }
  });
});

Deno.test("POST /retries with a dispute's id is 422 on body.transaction_id naming the forms, not 404", async () => {
  await withRefundWorld(async (w) => {
    const res = await w.t.app.request(
      `${BASE}/retries`,
      jsonRequest("POST", await otpHeaders(w.t, w.operator), {
        transaction_id: DSP,
        payment_method: "pm_card_visa",
      }),
    );
    const message = await refusal(res, "body.transaction_id");
    assert.match(message, /^transaction_id must be a transaction id, txn_… /);
    assert.match(message, /Stripe PaymentIntent or Charge id \(pi_…, ch_…, py_…\)$/);
  });
});

Deno.test("the aliases the README documents still answer: a payment by its txn_, pi_ or ch_ id", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId } = await w.pay(2500);
    const charge = typeof pi.latest_charge === "string" ? pi.latest_charge : pi.latest_charge!.id;
    const h = authHeaders(w.operator);
    for (const ref of [txnId, pi.id, charge, ` ${pi.id} `.trim()]) {
      const one = await w.t.app.request(`${BASE}/transactions/${ref}`, { headers: h });
      assert.equal(one.status, 200, ref);
      assert.equal((await one.json()).id, txnId);
      for (const list of ["retries", "refunds"]) {
        const page = await w.t.app.request(`${BASE}/${list}?transaction_id=${ref}`, { headers: h });
        assert.equal(page.status, 200, `${list} ${ref}`);
        await page.body?.cancel();
      }
    }
    // a refund asked for by the payment's Stripe id, with spaces around it as pasted
    const refund = await w.t.app.request(
      `${BASE}/refunds`,
      jsonRequest("POST", await otpHeaders(w.t, w.operator), {
        transaction_id: ` ${pi.id} `,
        amount: 100,
        reason: "requested_by_customer",
        note: "by the Stripe id",
      }),
    );
    assert.equal(refund.status, 201);
    assert.equal((await refund.json()).transaction_id, txnId);
  });
});
