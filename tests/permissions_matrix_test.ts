/**
 * Role × route: every operation under /api/admin in the generated OpenAPI
 * document names its permission, and each role is refused (403 `forbidden`)
 * exactly where domain/permissions.ts says it lacks that permission.
 * Anything else (200, 404, 422, even 5xx from a handler given a probe id)
 * means the caller got past the guard.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders, type TestAdmin } from "./helpers/identity.ts";
import { can, type Permission, PERMISSIONS, ROLES } from "../domain/permissions.ts";

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

interface Operation {
  method: string;
  path: string;
  permission: Permission;
  secondFactor: boolean;
}

Deno.test("every /api/admin operation refuses exactly the roles the permission table excludes", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const operations: Operation[] = [];
    const missing: string[] = [];
    for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
      // the enrollment code is the credential there: no bearer token yet
      if (!path.startsWith("/api/admin") || path === "/api/admin/enroll") continue;
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const permission = op["x-permission"] as string | undefined;
        if (!permission || !(permission in PERMISSIONS)) {
          missing.push(`${method.toUpperCase()} ${path} (${permission ?? "no x-permission"})`);
          continue;
        }
        assert.deepEqual(
          op["x-roles"],
          [...PERMISSIONS[permission as Permission]],
          `${method} ${path} x-roles`,
        );
        operations.push({
          method,
          path,
          permission: permission as Permission,
          secondFactor: op["x-second-factor"] === true,
        });
      }
    }
    assert.deepEqual(missing, [], "operations without a known x-permission");
    for (
      const mine of ["get /api/admin/me", "post /api/admin/step-up", "patch /api/admin/users/{id}"]
    ) {
      assert.ok(operations.some((o) => `${o.method} ${o.path}` === mine), `${mine} is documented`);
    }

    const admins = new Map<string, TestAdmin>();
    for (const role of ROLES) admins.set(role, await createAdmin(t, role));

    const wrong: string[] = [];
    for (const op of operations) {
      const url = op.path.replace(/\{[^}]+\}/g, "zz_matrix_probe");
      for (const role of ROLES) {
        const admin = admins.get(role)!;
        const headers = op.secondFactor ? otpHeaders(t, admin) : authHeaders(admin);
        const hasBody = op.method !== "get" && op.method !== "delete";
        const res = await t.app.request(url, {
          method: op.method.toUpperCase(),
          headers: hasBody ? { ...headers, "content-type": "application/json" } : headers,
          ...(hasBody ? { body: "{}" } : {}),
        });
        if (op.path === "/api/admin/me/rotate-token" && res.status === 200) {
          // everyone may rotate their own token: keep probing with the new one
          admin.token = (await res.clone().json()).token;
        }
        const isJson = /^application\/(problem\+)?json\b/.test(
          res.headers.get("content-type") ?? "",
        );
        const body = isJson ? await res.json() : (await res.body?.cancel(), null);
        const forbidden = res.status === 403 && body?.code === "forbidden";
        const allowed = can(role, op.permission);
        const label = `${role} ${op.method.toUpperCase()} ${op.path} -> ${res.status} ${
          body?.code ?? ""
        }`;
        if (allowed && (forbidden || res.status === 401 || res.status === 429)) wrong.push(label);
        if (!allowed && !forbidden) wrong.push(label);
        if (!allowed && forbidden) {
          assert.equal(body.permission, op.permission, label);
          assert.deepEqual(body.roles, [...PERMISSIONS[op.permission]], label);
        }
      }
    }
    assert.deepEqual(wrong, [], "role × route outcomes that disagree with the permission table");
  });
});
