/**
 * What Swagger UI's "Try it out" sends is each operation's examples: every one
 * must pass validation as is, none may switch a guard off or narrow a list, and
 * an operation no example can make harmless says that it acts.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { otpHeaders } from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

function resolve(doc: Json, schema: Json): Json {
  if (schema?.$ref) return resolve(doc, doc.components.schemas[schema.$ref.split("/").at(-1)]);
  return schema;
}

/**
 * The body Swagger UI's "Try it out" fills in: an example where the schema has
 * one (its own, else its default or first enum value), else a placeholder by
 * type for EVERY property, optional ones too ("string", 0, true, and
 * `additionalProp1..3` for a map), as its sample generator does.
 */
function swaggerSample(doc: Json, schema: Json): unknown {
  const s = resolve(doc, schema);
  if (s.example !== undefined) return s.example;
  if (s.examples?.[0] !== undefined) return s.examples[0];
  if (s.default !== undefined) return s.default;
  if (s.enum?.length) return s.enum[0];
  const alt = s.oneOf ?? s.anyOf ?? s.allOf;
  if (alt?.length) {
    return swaggerSample(
      doc,
      alt.find((x: Json) => resolve(doc, x).type !== "null") ?? alt[0],
    );
  }
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  if (type === "object" || s.properties || s.additionalProperties) {
    const out: Record<string, unknown> = {};
    for (const [name, prop] of Object.entries<Json>(s.properties ?? {})) {
      if (resolve(doc, prop).readOnly) continue;
      out[name] = swaggerSample(doc, prop);
    }
    if (s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties) {
      for (const n of [1, 2, 3]) {
        out[`additionalProp${n}`] = swaggerSample(doc, s.additionalProperties);
      }
    }
    return out;
  }
  if (type === "array") return [swaggerSample(doc, s.items ?? {})];
  if (type === "integer" || type === "number") return s.minimum ?? 0;
  if (type === "boolean") return true;
  if (s.format === "date-time") return new Date().toISOString();
  if (s.format === "email") return "user@example.com";
  return "string";
}

function bodyExample(doc: Json, schema: Json, _where: string): Record<string, unknown> {
  return swaggerSample(doc, schema) as Record<string, unknown>;
}

function operations(doc: Json) {
  return Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
    Object.entries<Json>(item).map(([method, op]) => ({ path, method, op }))
  );
}

// A query example (a time range among them) is checked below: none narrows a list.
Deno.test("no example switches a guard off", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const text = JSON.stringify(doc);
    assert.doesNotMatch(text, /"confirm_duplicate":true/);
    assert.doesNotMatch(text, /additionalProp\d/);
  });
});

Deno.test("Try it out fills in no placeholder: every body property Swagger UI sends has an example", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const placeholders: string[] = [];
    for (const { path, method, op } of operations(doc)) {
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      if (!schema || path === "/api/webhooks/stripe") continue;
      const text = JSON.stringify(swaggerSample(doc, schema));
      if (/"string"|additionalProp\d/.test(text)) placeholders.push(`${method} ${path}: ${text}`);
    }
    assert.deepEqual(placeholders, []);
  });
});

/**
 * Examples that stand for a secret only the caller holds (an authenticator's code, an
 * enrollment code): no example can be both right and harmless, so each is a placeholder that
 * is refused as a wrong code, and its operation says so (README "API").
 */
const SECRET_PLACEHOLDERS: Record<string, string> = {
  "post /api/admin/step-up": "otp_invalid",
  "post /api/admin/enroll": "enrollment_invalid",
};

/**
 * What a write's example may do when sent as is from /docs (README "API": an example is
 * harmless), besides naming an example target that answers 404:
 */
const HARMLESS_WRITES: Record<string, { status: number; why: RegExp }> = {
  // writes nothing (its description says so)
  "post /api/admin/payments/fraud/rules/backtest": { status: 200, why: /writes nothing/ },
  "post /api/admin/payments/fraud/analyze": { status: 404, why: /writes nothing/ },
  // `{}` changes no setting: no new version
  "put /api/admin/payments/fraud/rules/{rule}": { status: 200, why: /changes nothing/ },
  // an account that can approve only waits for a second admin, at a domain that gets no mail
  "post /api/admin/users": { status: 202, why: /creates no account/ },
};

/**
 * Operations that take no input at all: the operation is what is sent, there is no example
 * that could make it harmless, so it acts (README "API" names each, and its description
 * starts by saying so). Not sent here: a rotation would also revoke the token every later
 * request here is sent with.
 */
const NO_INPUT: Record<string, string> = {
  "post /api/admin/me/rotate-token": "rotateTokenMe",
  "post /api/admin/payments/fraud/sweeps": "createFraudSweep",
};

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const API_SECTION = README.slice(README.indexOf("\n## API\n"), README.indexOf("\nErrors are"));

Deno.test("an operation that acts when sent as is says so first, and README names it", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const problems: string[] = [];
    for (const { path, method, op } of operations(doc)) {
      const name = `${method} ${path}`;
      const pathParam = (op.parameters ?? []).some((p: Json) => p.in === "path");
      // a write with neither a body nor an id to name: nothing an example could make harmless
      if (method !== "get" && !op.requestBody && !pathParam && !(name in NO_INPUT)) {
        problems.push(`${name} takes no input: add it to NO_INPUT`);
      }
      if (!(name in NO_INPUT)) continue;
      assert.equal(op.operationId, NO_INPUT[name]);
      if (!/^Sending this acts at once: /.test(op.description ?? "")) {
        problems.push(`${name}: description does not start "Sending this acts at once: "`);
      }
      if (!API_SECTION.includes(`\`${op.operationId}\``)) {
        problems.push(`README "API" does not name ${op.operationId} among the examples that act`);
      }
    }
    assert.deepEqual(problems, []);
  });
});

/**
 * Swagger UI pre-fills a query parameter's example in Try it out: an example that filters
 * (`assignee: me`) sends a narrower list than the operation's own, and a new operator reads
 * an empty queue as an empty queue. Any pre-filled value must be what the server takes
 * without it (its default).
 */
Deno.test("no query example Swagger UI pre-fills narrows a list: each is the parameter's default", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const narrowing: string[] = [];
    for (const { path, method, op } of operations(doc)) {
      for (const p of (op.parameters ?? []) as Json[]) {
        if (p.in !== "query") continue;
        const example = p.example ?? p.schema?.example ??
          Object.values<Json>(p.examples ?? {})[0]?.value ?? p.schema?.examples?.[0];
        if (example === undefined) continue;
        if (JSON.stringify(example) !== JSON.stringify(p.schema?.default)) {
          narrowing.push(`${method} ${path} ${p.name}=${JSON.stringify(example)}`);
        }
      }
    }
    assert.deepEqual(narrowing, []);
  });
});

// deno-lint-ignore no-explicit-any
function describes(op: any, why: RegExp): boolean {
  return why.test(`${op.summary ?? ""} ${op.description ?? ""}`) ||
    why.test(JSON.stringify(op.requestBody ?? {}));
}

Deno.test("every request example passes validation when sent as is, and no write's example acts", async () => {
  await withRefundWorld(async (w) => {
    const { t, admin } = w;
    const doc = await (await t.app.request("/openapi.json")).json();
    let sent = 0;
    const problems: string[] = [];
    for (const { path, method, op } of operations(doc)) {
      if (path === "/api/webhooks/stripe") continue; // signed by Stripe: no example can pass
      const name = `${method} ${path}`;
      if (name in NO_INPUT) continue;
      // a file upload: /docs offers a file picker, there is nothing to send as is
      if (op.requestBody?.content?.["multipart/form-data"]) continue;
      const params = (op.parameters ?? []) as Json[];
      let url = path.replace(/\{(\w+)\}/g, (_m: string, name: string) => {
        const p = params.find((x) => x.in === "path" && x.name === name);
        return encodeURIComponent(p?.schema?.example ?? p?.example ?? "x_nope");
      });
      const query = new URLSearchParams();
      for (const p of params.filter((x) => x.in === "query")) {
        const example = p.schema?.example ?? p.example;
        if (example !== undefined) query.set(p.name, String(example));
      }
      if ([...query].length) url += `?${query}`;
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      const init: { method: string; headers: Record<string, string>; body?: string } = {
        method: method.toUpperCase(),
        headers: { ...otpHeaders(t, admin), "content-type": "application/json" },
      };
      try {
        if (schema) init.body = JSON.stringify(bodyExample(doc, schema, name));
      } catch (e) {
        problems.push((e as Error).message);
        continue;
      }
      const res = await t.app.request(url, init);
      const body = await res.text();
      const said = `${method} ${url} ${init.body ?? ""}: ${res.status} ${body.slice(0, 300)}`;
      const placeholder = SECRET_PLACEHOLDERS[name];
      const harmless = HARMLESS_WRITES[name];
      if (placeholder) {
        if (JSON.parse(body).code !== placeholder) problems.push(said);
        if (!describes(op, /placeholder/)) {
          problems.push(`${name} does not say it is a placeholder`);
        }
      } else if (harmless) {
        if (res.status !== harmless.status) problems.push(said);
        if (!describes(op, harmless.why)) problems.push(`${name} does not say why it is harmless`);
      } else if (method === "get" ? res.status !== 200 && res.status !== 404 : res.status !== 404) {
        // a read answers, a write names an example target that is not there
        problems.push(said);
      }
      sent++;
    }
    assert.deepEqual(problems, []);
    assert.ok(sent > 40, `${sent} operations sent`);
  });
});

Deno.test("every operation has a unique camelCase operationId and says who may call it", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const ids = new Set<string>();
    for (const { path, method, op } of operations(doc)) {
      assert.match(op.operationId ?? "", /^[a-z][A-Za-z0-9]+$/, `${method} ${path}`);
      assert.ok(!ids.has(op.operationId), `${op.operationId} is unique`);
      ids.add(op.operationId);
      assert.ok(Array.isArray(op.security), `${method} ${path} declares security`);
      if (path === "/metrics") {
        // a scraper's METRICS_TOKEN or an admin's token (README, "Metrics")
        assert.deepEqual(op.security, [{ metricsToken: [] }, { bearerAuth: [] }]);
      } else if (!path.startsWith("/api/admin") || path === "/api/admin/enroll") {
        assert.deepEqual(op.security, [], `${method} ${path} is public`);
      }
    }
    const byRoute = Object.fromEntries(
      operations(doc).map((o) => [
        `${o.method} ${o.path}`,
        o.op.operationId,
      ]),
    );
    assert.equal(byRoute["post /api/admin/payments/refunds"], "createRefund");
    assert.equal(byRoute["get /api/admin/payments/refunds/{id}"], "getRefund");
    assert.equal(byRoute["post /api/admin/payments/refunds/{id}/approve"], "approveRefund");
    assert.equal(byRoute["get /api/admin/payments/transactions"], "listTransactions");
    assert.equal(byRoute["post /api/webhooks/stripe"], "receiveStripeWebhook");
    assert.equal(byRoute["get /metrics"], "getMetrics");
    assert.equal(byRoute["get /problems"], "listProblems");
    assert.equal(byRoute["get /problems/{code}"], "getProblem");
    assert.equal(doc.info.contact.name.length > 0, true);
    assert.equal(doc.info.license.name.length > 0, true);
  });
});
