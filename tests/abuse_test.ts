/**
 * The abuse suite: fast-check builds requests from the OpenAPI document
 * (every route; valid and mutated bodies, params, queries, headers, cursors;
 * huge and odd inputs) and sends them through `app.request()` as each role
 * and as nobody. Every answer is below 500, declared by the route, a valid
 * problem document when it is an error, and a refused request changes
 * nothing in KV but denial entries, counters, locks and rate windows.
 *
 * ABUSE_RUNS sets the number of cases (`deno task test:long` runs many more).
 */
import fc from "fast-check";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { createAdmin, otpHeaders, stepUpHeaders, type TestAdmin } from "./helpers/identity.ts";
import { ROLES } from "../domain/permissions.ts";
import { AppError } from "../core/errors.ts";
import type { StripeGateway } from "../services/stripe/mod.ts";
import {
  assertUnchanged,
  bodyFor,
  checkResponse,
  type Operation,
  operationsOf,
  paramFor,
  snapshot,
} from "./helpers/abuse.ts";
import { type ResponseChecker, responseChecker } from "./helpers/response_schema.ts";

const RUNS = Number(Deno.env.get("ABUSE_RUNS") ?? 2000);
const SEED = Deno.env.get("ABUSE_SEED") ? Number(Deno.env.get("ABUSE_SEED")) : undefined;

/** Routes whose success replaces the caller's own credentials: probed, but not as a success. */
const SELF_CHANGING = new Set(["post /api/admin/me/rotate-token"]);

type Caller = { role: string; admin: TestAdmin | null };

/** Stripe down, as the real gateway reports it: routes that reach it must answer 502/503. */
const unreachableStripe: StripeGateway = {
  call() {
    return Promise.reject(
      new AppError("stripe_unavailable", "Stripe is not reachable from the abuse suite"),
    );
  },
};

async function world(): Promise<
  { t: TestApp; ops: Operation[]; callers: Caller[]; schemas: ResponseChecker }
> {
  const t = await createTestApp({
    env: { API_RATE_LIMIT_PER_MIN: "1000000000" },
    stripe: unreachableStripe,
  });
  const doc = await (await t.app.request("/openapi.json")).json();
  const ops = operationsOf(doc).filter((o) =>
    o.path.startsWith("/api/") && o.path !== "/api/webhooks/stripe"
  );
  const callers: Caller[] = [{ role: "none", admin: null }];
  for (const role of ROLES) callers.push({ role, admin: await createAdmin(t, role) });
  return { t, ops, callers, schemas: responseChecker(doc) };
}

/**
 * A path parameter as one segment. A dot segment (`.`, `..`, `%2e`) is never
 * one: URL parsing removes it, so the request would be for another path
 * (`/ops-alerts/./close` is `/ops-alerts/close`, a GET route's path: 405), not
 * an odd id for this operation; it is sent with a letter added.
 */
function pathSegment(v: string | undefined): string {
  const segment = encodeURIComponent(v || "x");
  return /^(\.|%2e){1,2}$/i.test(segment) ? `${segment}x` : segment;
}

function urlOf(op: Operation, values: Record<string, string | undefined>): string {
  let path = op.path;
  const query = new URLSearchParams();
  for (const p of op.params) {
    const v = values[p.name];
    if (p.in === "path") path = path.replace(`{${p.name}}`, pathSegment(v));
    else if (p.in === "query" && v !== undefined) query.set(p.name, v);
  }
  const q = query.toString();
  return q ? `${path}?${q}` : path;
}

Deno.test("abuse: every route, every role, valid and mutated input: no 5xx, declared answers, refused requests change nothing", async () => {
  const { t, ops, callers, schemas } = await world();
  try {
    // a step-up token per caller, so some requests get past the second factor
    const stepUps = new Map<string, Record<string, string>>();
    for (const c of callers) if (c.admin) stepUps.set(c.role, await stepUpHeaders(t, c.admin));

    const caseArb = fc.constantFrom(...ops).chain((op) =>
      fc.record({
        op: fc.constant(op),
        caller: fc.constantFrom(...callers),
        factor: fc.constantFrom("none", "step_up", "otp", "bad_otp"),
        body: bodyFor(op),
        params: fc.record(
          Object.fromEntries(op.params.map((p) => [p.name, paramFor(p)])),
          { requiredKeys: [] },
        ),
        idempotencyKey: fc.option(fc.string({ minLength: 0, maxLength: 300 }), { nil: undefined }),
      })
    );

    await fc.assert(
      fc.asyncProperty(caseArb, async (k) => {
        const headers: Record<string, string> = {};
        if (k.caller.admin) {
          if (k.factor === "step_up") Object.assign(headers, stepUps.get(k.caller.role));
          else if (k.factor === "otp") Object.assign(headers, otpHeaders(t, k.caller.admin));
          else headers.authorization = `Bearer ${k.caller.admin.token}`;
          if (k.factor === "bad_otp") headers["x-otp-code"] = "12345x";
        }
        const sendsBody = k.op.method !== "get" && k.body.text !== null;
        if (sendsBody && k.body.type) headers["content-type"] = k.body.type;
        if (k.idempotencyKey !== undefined) headers["idempotency-key"] = k.idempotencyKey;
        const url = urlOf(k.op, k.params as Record<string, string | undefined>);
        const label = `${k.caller.role} ${k.op.method.toUpperCase()} ${url}`;
        const before = await snapshot(t.kv);
        const res = await t.app.request(url, {
          method: k.op.method.toUpperCase(),
          headers,
          ...(sendsBody ? { body: k.body.text! } : {}),
        });
        const refused = res.status >= 400;
        if (SELF_CHANGING.has(`${k.op.method} ${k.op.path}`) && res.status === 200) {
          k.caller.admin!.token = (await res.clone().json()).token;
          stepUps.set(k.caller.role, await stepUpHeaders(t, k.caller.admin!));
        }
        await checkResponse(k.op, res, label, schemas);
        if (refused) assertUnchanged(before, await snapshot(t.kv), label);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  } finally {
    await t.close();
  }
});
