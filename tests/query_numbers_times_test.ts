/**
 * Whole numbers and date-times in a query string, as the OpenAPI document declares them
 * (`type: integer`, `format: date-time`), on every route taking one (walked from the document):
 * an integer is plain decimal digits (`0x10`, `1e1`, `+5`, ` 5`, `1.5` are 422 saying so), out of
 * range is one message on the field; a date-time is RFC 3339 (`t` and `z` in either case), and
 * an offset's `+` sent unencoded (read as a space) is 422 saying to send it as `%2B`.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

interface QueryParam {
  label: string;
  path: string;
  name: string;
  schema: Json;
}

/** Every GET's query parameter the document types as `kind` (`integer` or `date-time`). */
function queryParams(doc: Json, kind: "integer" | "date-time"): QueryParam[] {
  const out: QueryParam[] = [];
  for (const [template, item] of Object.entries<Json>(doc.paths)) {
    const op = item.get;
    if (!op || !template.startsWith("/api/admin")) continue;
    let path = template;
    for (const p of op.parameters ?? []) {
      if (p.in === "path") path = path.replace(`{${p.name}}`, String(p.schema?.example));
    }
    for (const p of op.parameters ?? []) {
      if (p.in !== "query") continue;
      const types = [p.schema?.type].flat();
      const hit = kind === "integer" ? types.includes("integer") : p.schema?.format === "date-time";
      if (hit) {
        out.push({ label: `GET ${template} ${p.name}`, path, name: p.name, schema: p.schema });
      }
    }
  }
  return out;
}

/** `value` is written into the query string as it is (encode it first where meant). */
async function ask(t: TestApp, admin: TestAdmin, p: QueryParam, raw: string) {
  t.clock.advance(1000); // well inside the token's throttle (README "Throttles")
  // verify's expect_seq goes with an expect_hash (README "Audit checkpoints")
  const also = p.name === "expect_seq" ? `&expect_hash=${"0".repeat(64)}` : "";
  const res = await t.app.request(`${p.path}?${p.name}=${raw}${also}`, {
    headers: authHeaders(admin),
  });
  const body = await res.json().catch(() => null);
  const errors = (body?.errors ?? []).filter((e: Json) => e.path === `query.${p.name}`);
  return { status: res.status, errors: errors as { message: string }[], body };
}

Deno.test("an integer query parameter takes plain decimal digits only, with one message on the field", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const params = queryParams(doc, "integer");
    for (const label of ["GET /api/admin/payments/audit-log limit", "GET /api/admin/users limit"]) {
      assert.ok(params.some((p) => p.label === label), `not walked: ${label}`);
    }
    assert.ok(
      params.some((p) => p.name === "expect_seq"),
      "expect_seq is an integer in the document (not integer or null)",
    );
    const admin = await createAdmin(t, "admin");
    const failures: string[] = [];
    for (const p of params) {
      assert.deepEqual([p.schema.type].flat(), ["integer"], p.label);
      const good = String(p.schema.minimum ?? 1);
      const fine = await ask(t, admin, p, good);
      if (fine.status === 422 && fine.errors.length) {
        failures.push(`${p.label}=${good}: ${fine.errors[0].message}`);
      }
      for (const raw of ["0x10", "1e1", "%2B5", "%205", "5%20", "1.5", "-1", "", "ten"]) {
        const r = await ask(t, admin, p, raw);
        if (r.status !== 422 || r.errors.length !== 1) {
          failures.push(`${p.label}=${raw}: ${r.status} ${JSON.stringify(r.body?.errors)}`);
        } else if (!/whole number .*plain decimal digits/.test(r.errors[0].message)) {
          failures.push(`${p.label}=${raw}: does not say plain digits: ${r.errors[0].message}`);
        }
      }
      for (const raw of ["99999999999999999999", "9007199254740993"]) {
        const r = await ask(t, admin, p, raw);
        if (r.status !== 422 || r.errors.length !== 1) {
          failures.push(`${p.label}=${raw}: ${r.status} ${JSON.stringify(r.body?.errors)}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});

Deno.test("limit out of range is one message; in plain digits it is taken", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const base = "/api/admin/payments/audit-log";
    for (const raw of ["99999999999999999999", "101", "0"]) {
      const res = await t.app.request(`${base}?limit=${raw}`, { headers: authHeaders(admin) });
      assert.equal(res.status, 422, raw);
      assert.deepEqual((await res.json()).errors, [
        { path: "query.limit", message: "limit must be between 1 and 100" },
      ]);
    }
    const res = await t.app.request(`${base}?limit=007`, { headers: authHeaders(admin) });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("a date-time query parameter takes RFC 3339 in either case, and says to send + as %2B", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const params = queryParams(doc, "date-time");
    for (
      const label of [
        "GET /api/admin/payments/audit-log from",
        "GET /api/admin/payments/audit-log/export to",
        "GET /api/admin/payments/transactions to",
        "GET /api/admin/payments/disputes due_before",
      ]
    ) assert.ok(params.some((p) => p.label === label), `not walked: ${label}`);
    const admin = await createAdmin(t, "admin");
    const failures: string[] = [];
    for (const p of params) {
      for (
        const raw of [
          "2026-12-07t22:40:00z",
          "2026-12-07T22:40:00z",
          "2026-12-07t22:40:00.5%2B01:00",
          "2026-12-07T22:40:00%2B01:00",
        ]
      ) {
        const r = await ask(t, admin, p, raw);
        if (r.errors.length) failures.push(`${p.label}=${raw}: ${r.errors[0].message}`);
      }
      for (const raw of ["2026-12-07T22:40:00+01:00", "2026-12-07t22:40:00+0100"]) {
        const r = await ask(t, admin, p, raw);
        if (r.status !== 422 || r.errors.length !== 1) {
          failures.push(`${p.label}=${raw}: ${r.status} ${JSON.stringify(r.body?.errors)}`);
        } else if (!r.errors[0].message.includes("%2B")) {
          failures.push(`${p.label}=${raw}: does not say %2B: ${r.errors[0].message}`);
        }
      }
      const plain = await ask(t, admin, p, "yesterday");
      if (plain.errors[0]?.message.includes("%2B")) {
        failures.push(`${p.label}=yesterday: speaks of %2B: ${plain.errors[0].message}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

Deno.test("a lowercase date-time filters as its uppercase form does", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const start = t.clock.now();
    for (let i = 0; i < 4; i++) {
      await t.services.audit.record(systemContext("cli"), {
        action: "test.entry",
        target: null,
        result: "ok",
      });
      t.clock.advance(60_000);
    }
    const from = new Date(start + 60_000).toISOString();
    const seqs = async (value: string) => {
      const res = await t.app.request(
        `/api/admin/payments/audit-log?action=test.entry&from=${value}`,
        { headers: authHeaders(admin) },
      );
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      return body.data.map((e: { seq: number }) => e.seq);
    };
    const upper = await seqs(from);
    assert.equal(upper.length, 3);
    assert.deepEqual(await seqs(from.replace("T", "t").replace("Z", "z")), upper);
  });
});
