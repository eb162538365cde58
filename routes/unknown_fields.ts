/**
 * Unknown query parameters and body fields are refused (README, "Inputs and
 * headers"), as Stripe refuses them: a misspelt filter (`stauts=failed`) would
 * otherwise list everything, and a misspelt `Amount` would be dropped and
 * leave the default (a full refund). Checked by the admin guard against the
 * route's own schemas, before a second factor is spent; the 422 names each
 * unknown name and the closest known one.
 */
import type { Context } from "hono";
import type { RouteConfig } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { type FieldError, validationFailed } from "../core/errors.ts";
import { unknownFieldMessage } from "../core/unknown_fields.ts";

/** The names a schema declares (a zod object's shape), or null when it is not an object. */
export function declaredNames(schema: unknown): ReadonlySet<string> | null {
  const shape = (schema as { shape?: unknown } | undefined)?.shape;
  return shape && typeof shape === "object" ? new Set(Object.keys(shape)) : null;
}

export interface KnownNames {
  /** query parameter names; an empty set when the route takes none */
  query: ReadonlySet<string>;
  /** top-level JSON body fields, or null when not checked (no body, or not an object schema) */
  body: ReadonlySet<string> | null;
}

/** What a route declares, worked out once when the route is defined. */
export function knownNames(request: RouteConfig["request"]): KnownNames {
  const content = request?.body?.content as Record<string, { schema?: unknown }> | undefined;
  return {
    query: declaredNames(request?.query) ?? new Set(),
    // a route that declares no body takes no field in one either
    body: request?.body === undefined
      ? new Set()
      : declaredNames(content?.["application/json"]?.schema),
  };
}

export async function refuseUnknownNames(c: Context<AppEnv>, known: KnownNames): Promise<void> {
  const errors: FieldError[] = [];
  const url = c.req.url;
  if (url.includes("?")) {
    for (const name of new Set(new URL(url).searchParams.keys())) {
      if (!known.query.has(name)) errors.push(unknown("query", name, known.query, "parameter"));
    }
  }
  if (known.body && /json/i.test(c.req.header("content-type") ?? "")) {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      body = null; // not JSON: the route's validation says so
    }
    if (body && typeof body === "object" && !Array.isArray(body)) {
      for (const name of Object.keys(body)) {
        if (!known.body.has(name)) errors.push(unknown("body", name, known.body, "field"));
      }
    }
  }
  if (errors.length) throw validationFailed(errors);
}

function unknown(
  where: string,
  name: string,
  known: ReadonlySet<string>,
  what: "field" | "parameter",
): FieldError {
  return { path: `${where}.${name}`, message: unknownFieldMessage(name, [...known], what) };
}
