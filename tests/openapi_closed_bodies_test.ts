/**
 * Every request body the service refuses unknown fields in says so in the
 * OpenAPI document (`additionalProperties: false`), at the top and in the
 * nested objects it checks field by field (README, "Inputs and headers"), so a
 * client generator or a reader sees the same contract the service enforces.
 * The objects that are deliberately open are listed below, each with why.
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { createAdmin, jsonRequest, type TestAdmin } from "./helpers/identity.ts";
import type { Role } from "../domain/permissions.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const METHODS = ["get", "put", "post", "delete", "patch"];

/** Where a body (or an object in it) is open on purpose, and why. */
const OPEN: Record<string, string> = {
  "POST /api/webhooks/stripe application/json":
    "a Stripe event: Stripe adds fields with every API version; it is judged by its signature",
  "#/components/schemas/FraudRulePatch.amounts":
    "a map from currency (its keys' pattern) to an amount: the keys are currencies, not fields",
  "#/components/schemas/FraudRulePatch.watch_amounts":
    "a map from currency (its keys' pattern) to an amount: the keys are currencies, not fields",
};

async function servedDocument(): Promise<Json> {
  const t = await createTestApp();
  try {
    return await (await t.app.request("/openapi.json")).json();
  } finally {
    await t.close();
  }
}

function isObject(s: Json): boolean {
  const type = s?.type;
  return type === "object" || (Array.isArray(type) && type.includes("object")) ||
    (s && typeof s === "object" && "properties" in s);
}

/**
 * Every object schema a request body holds, named by where it is: a component by its name
 * and property path (once, whichever body refers to it), an inline one by its operation.
 */
function bodyObjects(doc: Json): { where: string; schema: Json }[] {
  const out: { where: string; schema: Json }[] = [];
  const seen = new Set<string>();
  const walk = (s: Json, where: string) => {
    if (!s || typeof s !== "object") return;
    if (s.$ref) {
      const name = s.$ref.split("/").pop();
      if (seen.has(name)) return;
      seen.add(name);
      return walk(doc.components.schemas[name], `#/components/schemas/${name}`);
    }
    if (isObject(s)) out.push({ where, schema: s });
    for (const [name, p] of Object.entries<Json>(s.properties ?? {})) walk(p, `${where}.${name}`);
    if (s.items) walk(s.items, `${where}[]`);
    if (s.additionalProperties && typeof s.additionalProperties === "object") {
      walk(s.additionalProperties, `${where}{}`);
    }
    for (const k of ["anyOf", "oneOf", "allOf"]) for (const x of s[k] ?? []) walk(x, where);
  };
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of METHODS) {
      const content = item[method]?.requestBody?.content ?? {};
      for (const [type, media] of Object.entries<Json>(content)) {
        walk(media.schema, `${method.toUpperCase()} ${path} ${type}`);
      }
    }
  }
  return out;
}

/** The objects of request bodies that do not declare `additionalProperties: false`. */
function openBodyObjects(doc: Json): string[] {
  return bodyObjects(doc).filter(({ schema }) => schema.additionalProperties !== false)
    .map(({ where, schema }) => `${where}: ${JSON.stringify(schema.additionalProperties)}`);
}

Deno.test("every request body object declares additionalProperties: false, but the ones open on purpose", async () => {
  const doc = await servedDocument();
  const open = openBodyObjects(doc);
  const where = (o: string) => o.slice(0, o.indexOf(": "));
  assert.deepEqual(
    open.filter((o) => !(where(o) in OPEN)),
    [],
    "body objects the service is strict about that the document leaves open",
  );
  // each exception is still there and still open: a stale one would hide a new open object
  const listed = new Set(open.map(where));
  assert.deepEqual(Object.keys(OPEN).filter((where) => !listed.has(where)), []);
});

Deno.test("the check names an open body object, also nested and behind a $ref", () => {
  const doc = {
    components: {
      schemas: {
        Inner: { type: "object", properties: { a: { type: "string" } } },
        Outer: {
          type: "object",
          additionalProperties: false,
          properties: { inner: { $ref: "#/components/schemas/Inner" } },
        },
      },
    },
    paths: {
      "/x": {
        post: {
          requestBody: {
            content: {
              "application/json": { schema: { $ref: "#/components/schemas/Outer" } },
            },
          },
        },
        put: {
          requestBody: {
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  additionalProperties: {},
                  properties: { list: { type: "array", items: { type: "object" } } },
                },
              },
            },
          },
        },
      },
    },
  };
  assert.deepEqual(openBodyObjects(doc), [
    "PUT /x application/json: {}",
    "PUT /x application/json.list[]: undefined",
    "#/components/schemas/Inner: undefined",
  ]);
});

Deno.test("every JSON body the document closes is refused with an unknown field, naming it", async () => {
  const doc = await servedDocument();
  const t = await createTestApp();
  try {
    const admins = new Map<Role, TestAdmin>();
    const caller = async (roles: Role[] | undefined) => {
      const role = roles?.includes("admin") ? "admin" : roles?.[0];
      if (!role) return null;
      if (!admins.has(role)) admins.set(role, await createAdmin(t, role));
      return admins.get(role)!;
    };
    const wrong: string[] = [];
    let sent = 0;
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method];
        let schema = op?.requestBody?.content?.["application/json"]?.schema;
        if (!schema) continue;
        if (schema.$ref) schema = doc.components.schemas[schema.$ref.split("/").pop()];
        if (schema.additionalProperties !== false) continue;
        const admin = await caller(op["x-roles"]);
        const headers: Record<string, string> = admin
          ? { authorization: `Bearer ${admin.token}` }
          : {};
        const url = path.replace(/\{[^}]+\}/g, "x");
        const res = await t.app.request(
          url,
          jsonRequest(method.toUpperCase(), headers, { zz_unknown: 1 }),
        );
        const body = await res.json();
        const error = (body.errors ?? []).find((e: Json) => e.path === "body.zz_unknown");
        sent++;
        if (res.status !== 422 || !/^zz_unknown is not a known field/.test(error?.message)) {
          wrong.push(`${method.toUpperCase()} ${path}: ${res.status} ${JSON.stringify(body)}`);
        }
      }
    }
    assert.ok(sent >= 25, `only ${sent} closed JSON bodies`);
    assert.deepEqual(wrong, []);
  } finally {
    await t.close();
  }
});
