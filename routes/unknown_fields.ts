/**
 * Unknown query parameters and body fields are refused (README, "Inputs and
 * headers"), as Stripe refuses them: a misspelt filter (`stauts=failed`) would
 * otherwise list everything, and a misspelt `Amount` would be dropped and
 * leave the default (a full refund). Checked by the admin guard against the
 * route's own schemas, before a second factor is spent; the 422 names each
 * unknown name and the closest known one, and with them whatever else the
 * route's schemas refuse (README, "API": `errors[]` lists each bad field).
 *
 * And a query parameter that takes one value, given more than once
 * (`limit=10&limit=20`), is told so, rather than as a value of the wrong type.
 */
import type { Context } from "hono";
import type { RouteConfig } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { type FieldError, validationFailed } from "../core/errors.ts";
import { takesList, unknownFieldMessage } from "../core/unknown_fields.ts";
import { requestErrors, type RequestSchemas } from "./body_gate.ts";

/** The names a schema declares (a zod object's shape), or null when it is not an object. */
export function declaredNames(schema: unknown): ReadonlySet<string> | null {
  const shape = (schema as { shape?: unknown } | undefined)?.shape;
  return shape && typeof shape === "object" ? new Set(Object.keys(shape)) : null;
}

export interface KnownNames {
  /** query parameter names; an empty set when the route takes none */
  query: ReadonlySet<string>;
  /** the query parameters that take a list, and so may be given more than once */
  lists: ReadonlySet<string>;
  /** top-level JSON body fields, or null when not checked (no body, or not an object schema) */
  body: ReadonlySet<string> | null;
}

/** What a route declares, worked out once when the route is defined. */
export function knownNames(request: RouteConfig["request"]): KnownNames {
  const content = request?.body?.content as Record<string, { schema?: unknown }> | undefined;
  const shape = (request?.query as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
  return {
    query: declaredNames(request?.query) ?? new Set(),
    lists: new Set(Object.keys(shape).filter((name) => takesList(shape[name]))),
    // a route that declares no body takes no field in one either
    body: request?.body === undefined
      ? new Set()
      : declaredNames(content?.["application/json"]?.schema),
  };
}

/** What the guard checks besides unknown names (`adminRoute`'s options). */
export interface FurtherChecks {
  /** run the route's own schemas even when every name is known (else only with unknown ones) */
  validate?: boolean;
  /** a rule the schemas cannot say (a route's own validation path: the evidence draft's fields) */
  check?: (c: Context<AppEnv>) => Promise<FieldError[]>;
  /**
   * what is refused whatever the body holds, told with the unknown names (an `If-Match` the
   * route does not take, routes/if_match.ts)
   */
  refuse?: (c: Context<AppEnv>) => FieldError[];
}

/**
 * Refuses unknown names and single values given more than once, in one 422 with what the
 * route's own schemas (`request`) and its own check refuse besides (README "Inputs and headers":
 * one answer lists them all); a name told here is not told again in the schema's or the check's
 * words (`extra` of a strict body, `limit` given twice is no "must be a number").
 */
export async function refuseUnknownNames(
  c: Context<AppEnv>,
  known: KnownNames,
  request?: RequestSchemas,
  further: FurtherChecks = {},
): Promise<void> {
  const errors = [...await unknownNames(c, known), ...further.refuse?.(c) ?? []];
  if (errors.length === 0 && !further.validate && !further.check) return;
  const schemas = errors.length || further.validate ? await requestErrors(c, request) : [];
  // a body that is no JSON at all is told so, not field by field
  const unreadable = schemas.some((e) => e.path === "body");
  const own = further.check && !unreadable ? await further.check(c) : [];
  const told = new Set(errors.map((e) => e.path));
  const fromSchemas = schemas.filter((e) => !told.has(e.path));
  for (const e of fromSchemas) told.add(e.path);
  const all = [...errors, ...fromSchemas, ...own.filter((e) => !told.has(e.path))];
  if (all.length) throw validationFailed(all);
}

async function unknownNames(c: Context<AppEnv>, known: KnownNames): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const url = c.req.url;
  if (url.includes("?")) {
    const params = new URL(url).searchParams;
    for (const name of new Set(params.keys())) {
      if (!known.query.has(name)) {
        errors.push(unknown("query", name, known.query, "parameter"));
        continue;
      }
      const times = params.getAll(name).length;
      if (times > 1 && !known.lists.has(name)) {
        errors.push({
          path: `query.${name}`,
          message: `${name} is given ${times} times; give it once`,
        });
      }
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
  return errors;
}

function unknown(
  where: string,
  name: string,
  known: ReadonlySet<string>,
  what: "field" | "parameter",
): FieldError {
  return { path: `${where}.${name}`, message: unknownFieldMessage(name, [...known], what) };
}
