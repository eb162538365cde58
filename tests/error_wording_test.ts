/** Error messages name the problem in words a caller can act on. */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  authHeaders,
  createAdmin,
  jsonRequest,
  otpHeaders,
  stepUpHeaders,
} from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";
import { fieldErrors } from "../core/field_errors.ts";
import { RULE_NAMES } from "../domain/fraud.ts";
import { ZOD_WORDS } from "./helpers/abuse.ts";

const BASE = "/api/admin/payments/refunds";

async function problem(res: Response) {
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  return await res.json();
}

Deno.test("a missing field says `<field> is required`, naming it in errors[]", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(2000);
    const headers = await stepUpHeaders(w.t, w.operator);
    const res = await w.t.app.request(
      BASE,
      jsonRequest("POST", headers, { transaction_id: pay.txnId, reason: "duplicate" }),
    );
    assert.equal(res.status, 422);
    const body = await problem(res);
    assert.equal(body.code, "validation_failed");
    assert.deepEqual(body.errors, [{ path: "body.note", message: "note is required" }]);
    assert.equal(body.detail, "body.note: note is required");
  });
});

Deno.test("a refund id that names no refund is 404 `no refund …`; one cut short says the form", async () => {
  await withRefundWorld(async (w) => {
    const unknown = "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";
    const res = await w.t.app.request(`${BASE}/${unknown}`, { headers: authHeaders(w.operator) });
    assert.equal(res.status, 404);
    const body = await problem(res);
    assert.equal(body.code, "not_found");
    assert.match(body.detail, new RegExp(`^no refund ${unknown}`));
    const short = await w.t.app.request(`${BASE}/rfd_nope`, { headers: authHeaders(w.operator) });
    assert.equal(short.status, 422);
    const refused = await problem(short);
    assert.equal(refused.errors[0].path, "path.id");
    assert.match(refused.errors[0].message, /rfd_ and 26 .* GET \/api\/admin\/payments\/refunds/);
  });
});

Deno.test("a token that is not one of ours is called unknown, not malformed", async () => {
  await withRefundWorld(async (w) => {
    const res = await w.t.app.request("/api/admin/me", {
      headers: { authorization: "Bearer 12345" },
    });
    assert.equal(res.status, 401);
    const body = await problem(res);
    assert.match(body.detail, /^unknown token/);
    assert.doesNotMatch(body.detail, /malformed/);
  });
});

Deno.test("fieldErrors() words zod's defaults and keeps a schema's own message", () => {
  const schema = z.object({
    note: z.string(),
    limit: z.number().int().max(100),
    reason: z.enum(["duplicate", "fraudulent"]),
    kept: z.string().min(3, "kept needs three letters, like abc"),
  }).strict();
  const parsed = schema.safeParse({ limit: 101, reason: "x", kept: "a", extra: 1 });
  assert.equal(parsed.success, false);
  const byPath = Object.fromEntries(
    fieldErrors("body", parsed.error!.issues).map((e) => [e.path, e.message]),
  );
  assert.deepEqual(byPath, {
    "body.note": "note is required",
    "body.limit": "limit must be at most 100",
    "body.reason": "reason must be one of duplicate, fraudulent",
    "body.kept": "kept needs three letters, like abc",
    "body.extra": "extra is not a known field",
  });
});

Deno.test("a pattern zod would call 'a valid regex' is shown as the pattern", () => {
  const parsed = z.object({ code: z.string().regex(/^[A-Z]{2}$/) }).safeParse({ code: "x" });
  assert.equal(parsed.success, false);
  assert.deepEqual(fieldErrors("body", parsed.error!.issues), [
    { path: "body.code", message: "code must match the pattern /^[A-Z]{2}$/" },
  ]);
});

Deno.test("an approval_hash that is not a hash says where the hash comes from", async () => {
  await withRefundWorld(async (w) => {
    const headers = await stepUpHeaders(w.t, w.admin);
    const res = await w.t.app.request(
      `${BASE}/rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R/approve`,
      jsonRequest("POST", headers, { approval_hash: "abc" }),
    );
    assert.equal(res.status, 422);
    const body = await problem(res);
    assert.equal(body.errors[0].path, "body.approval_hash");
    assert.match(
      body.errors[0].message,
      /approval\.hash.*GET \/api\/admin\/payments\/refunds\/\{id\}/,
    );
    assert.doesNotMatch(body.detail, /regex/);
  });
});

Deno.test("an approval_hash sent to the approvals queue that is not a hash is 422 saying where it comes from", async () => {
  await withRefundWorld(async (w) => {
    const headers = otpHeaders(w.t, w.admin);
    const res = await w.t.app.request(
      "/api/admin/approvals/apr_01JD3Y8Z6QKQ2X5N7S9V4W1T0R/approve",
      jsonRequest("POST", headers, { approval_hash: "abc" }),
    );
    assert.equal(res.status, 422);
    const body = await problem(res);
    assert.equal(body.errors[0].path, "body.approval_hash");
    assert.match(body.errors[0].message, /approval_hash.*GET \/api\/admin\/approvals/);
  });
});

Deno.test("an id in the wrong form names the field and the form, as a sentence", async () => {
  await withRefundWorld(async (w) => {
    const res = await w.t.app.request("/api/admin/payments/transactions/nope", {
      headers: authHeaders(w.operator),
    });
    assert.equal(res.status, 422);
    const body = await problem(res);
    assert.equal(
      body.detail,
      "path.id: id must be a transaction id, txn_… (txn_ and 26 digits and capital letters, " +
        "as GET /api/admin/payments/transactions shows it) or the payment's Stripe " +
        "PaymentIntent or Charge id (pi_…, ch_…, py_…)",
    );
  });
});

Deno.test("an id of ours cut short or mistyped says the whole form, not only the prefix it has", async () => {
  await withRefundWorld(async (w) => {
    // each id starts right (a copy cut short, a made-up one): "must be a dsp_… id" would confuse
    const cases: [string, string, RegExp][] = [
      [
        "GET",
        "/api/admin/payments/disputes/dsp_nope",
        /dsp_ and 26 .* GET \/api\/admin\/payments\/disputes/,
      ],
      [
        "GET",
        "/api/admin/payments/ops-alerts/ops_01M976YJ0WCWGYPN63",
        /ops_ and 26 .* GET \/api\/admin\/payments\/ops-alerts/,
      ],
      [
        "GET",
        "/api/admin/payments/fraud/alerts/fa_nope",
        /fa_ and 26 .* GET \/api\/admin\/payments\/fraud\/alerts/,
      ],
      [
        "DELETE",
        "/api/admin/payments/fraud/snoozes/fsz_nope",
        /fsz_ and 26 .* GET \/api\/admin\/payments\/fraud\/snoozes/,
      ],
      [
        "GET",
        "/api/admin/payments/retries/rty_01m9775n0f6syrr7fpq5zjnz3m",
        /rty_ and 26 .* GET \/api\/admin\/payments\/retries/,
      ],
      ["GET", "/api/admin/payments/authorizations/aut_nope", /aut_ and 26 .*Location/],
    ];
    for (const [method, path, form] of cases) {
      const res = await w.t.app.request(path, { method, headers: authHeaders(w.operator) });
      assert.equal(res.status, 422, path);
      const body = await problem(res);
      assert.equal(body.errors[0].path, "path.id", path);
      assert.match(body.errors[0].message, form, path);
    }
  });
});

Deno.test("fieldErrors() words every kind of zod issue by the field and its fix, never in zod's own words", () => {
  const cases: [z.ZodType, unknown, Record<string, string>][] = [
    [z.object({ a: z.union([z.string(), z.number()]) }), { a: true }, {
      "body.a": "a must be a string or a number",
    }],
    [
      z.object({
        amounts: z.record(
          z.string().regex(/^[a-z]{3}$/, "currency keys are lowercase ISO codes such as usd"),
          z.number(),
        ),
      }),
      { amounts: { USD: 1 } },
      { "body.amounts.USD": "currency keys are lowercase ISO codes such as usd" },
    ],
    [z.object({ m: z.record(z.string().min(2), z.number()) }), { m: { x: 1 } }, {
      "body.m.x": "the key x must be at least 2 characters",
    }],
    [z.object({ n: z.number().positive() }), { n: 0 }, { "body.n": "n must be more than 0" }],
    [z.object({ n: z.number().lt(5) }), { n: 5 }, { "body.n": "n must be less than 5" }],
    [z.object({ n: z.number().multipleOf(5) }), { n: 3 }, {
      "body.n": "n must be a multiple of 5",
    }],
    [z.object({ s: z.string().min(1) }), { s: "" }, { "body.s": "s must not be empty" }],
    [z.object({ s: z.string().max(1) }), { s: "ab" }, {
      "body.s": "s must be at most 1 character",
    }],
    [z.object({ xs: z.array(z.string()).min(1) }), { xs: [] }, {
      "body.xs": "xs must have at least 1 item",
    }],
    [z.object({ xs: z.array(z.string()) }), { xs: [1] }, { "body.xs.0": "xs[0] must be a string" }],
    [z.object({ d: z.iso.datetime() }), { d: "x" }, {
      "body.d": "d must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z",
    }],
    [z.object({ e: z.email() }), { e: "x" }, {
      "body.e": "e must be an email address such as ops@example.com",
    }],
    [z.object({ s: z.string().startsWith("pi_") }), { s: "x" }, {
      "body.s": 's must start with "pi_"',
    }],
    [z.object({ a: z.literal("x") }), { a: "y" }, { "body.a": 'a must be "x"' }],
    [
      z.object({
        a: z.discriminatedUnion("k", [
          z.object({ k: z.literal("x") }),
          z.object({ k: z.literal("y") }),
        ]),
      }),
      { a: { k: "z" } },
      { "body.a.k": "k must be one of x, y" },
    ],
    [z.object({ a: z.string() }).refine(() => false), { a: "x" }, {
      "body": "body does not pass this route's checks; see the operation's schema in /docs",
    }],
  ];
  for (const [schema, value, expected] of cases) {
    const parsed = schema.safeParse(value);
    assert.equal(parsed.success, false, JSON.stringify(value));
    const errors = fieldErrors("body", parsed.error!.issues, schema);
    assert.deepEqual(Object.fromEntries(errors.map((e) => [e.path, e.message])), expected);
    for (const e of errors) assert.doesNotMatch(e.message, ZOD_WORDS, e.message);
  }
});

Deno.test("an unknown key of a map with named keys is named with the closest known key", () => {
  const schema = z.object({
    rules: z.partialRecord(z.enum(["velocity", "score"]), z.object({ a: z.number() })),
  });
  const parsed = schema.safeParse({ rules: { velocty: { a: 1 } } });
  assert.equal(parsed.success, false);
  assert.deepEqual(fieldErrors("body", parsed.error!.issues, schema), [
    { path: "body.rules.velocty", message: "velocty is not a known field; did you mean velocity?" },
  ]);
});

Deno.test("an unknown key of a map whose keys are named (`keyName`) is called one, with the names listed", () => {
  const rule = z.enum(["velocity", "score"]).meta({ keyName: "rule" });
  const schema = z.object({ rules: z.partialRecord(rule, z.object({ a: z.number() })) });
  const parsed = schema.safeParse({ rules: { velocty: { a: 1 }, zzz: { a: 1 } } });
  assert.equal(parsed.success, false);
  assert.deepEqual(fieldErrors("body", parsed.error!.issues, schema), [
    {
      path: "body.rules.velocty",
      message: "velocty is not a known rule; did you mean velocity? (rules: velocity, score)",
    },
    { path: "body.rules.zzz", message: "zzz is not a known rule (rules: velocity, score)" },
  ]);
});

Deno.test("a backtest naming a misspelt rule, an amount keyed by a bad currency, or contradictory settings, is 422 naming it and the fix", async () => {
  await withRefundWorld(async (w) => {
    const analyst = await createAdmin(w.t, "analyst");
    const send = async (body: unknown) => {
      const res = await w.t.app.request(
        "/api/admin/payments/fraud/rules/backtest",
        jsonRequest("POST", authHeaders(analyst), body),
      );
      assert.equal(res.status, 422);
      return (await problem(res)).errors as { path: string; message: string }[];
    };
    assert.deepEqual(await send({ days: 7, rules: { velocty: { alert_at: 12 } } }), [
      {
        path: "body.rules.velocty",
        message: "velocty is not a known rule; did you mean velocity? " +
          `(rules: ${RULE_NAMES.join(", ")})`,
      },
    ]);
    assert.deepEqual(await send({ rules: { high_value_burst: { amounts: { USD: 60000 } } } }), [
      {
        path: "body.rules.high_value_burst.amounts.USD",
        message: "currency keys are lowercase ISO codes such as usd",
      },
    ]);
    // settings a PUT would refuse as contradictory are refused by the backtest too
    assert.deepEqual(await send({ rules: { velocity: { alert_at: 1, watch_at: 5 } } }), [
      {
        path: "body.rules.velocity.alert_at",
        message: "alert_at (1) must be at least watch_at (5)",
      },
    ]);
  });
});
