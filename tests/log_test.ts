import assert from "node:assert/strict";
import fc from "fast-check";
import { createLogger, maskCards, maskString } from "../core/log.ts";

Deno.test("maskString() hides keys, webhook secrets, bearer tokens, emails and card numbers", () => {
  const line = maskString(
    "key sk_live_51AbCdEfGh whsec_abcdEFGH1234 Authorization: Bearer pot_secretToken " +
      "mail ada.lovelace@example.com card 4242 4242 4242 4242",
  );
  assert.doesNotMatch(
    line,
    /51AbCdEfGh|abcdEFGH1234|pot_secretToken|ada\.lovelace|4242 4242 4242 4242/,
  );
  assert.match(line, /sk_live_\*\*\*\*/);
  assert.match(line, /a\*\*\*@example\.com/);
  assert.match(line, /\*\*\*\*4242/);
});

Deno.test("maskString() hides this service's own tokens and enrollment codes wherever they are typed", () => {
  const tok = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
  const line = maskString(`note: token pot_${tok} step psu_${tok} code enr_${tok.slice(0, 32)}`);
  assert.doesNotMatch(line, /abcdefgh/);
  assert.equal(line, "note: token pot_**** step psu_**** code enr_****");
  // ids that merely start alike are left alone
  assert.equal(maskString("potato_salad enr_x"), "potato_salad enr_x");
});

Deno.test("logger: fields named like secrets are replaced, levels below the threshold dropped", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l)).child({ request_id: "req_1" });
  log.debug("hidden");
  log.info("admin created", {
    email: "grace@example.com",
    token: "pot_abc",
    totp_secret: "JBSWY3DP",
    nested: { password: "x" },
  });
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.level, "info");
  assert.equal(entry.request_id, "req_1");
  assert.equal(entry.token, "****");
  assert.equal(entry.totp_secret, "****");
  assert.equal(entry.nested.password, "****");
  assert.equal(entry.email, "g***@example.com");
});

Deno.test("logger: `pretty` writes one short masked line per event, request lines first", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l), {}, "pretty").child({
    request_id: "req_1",
  });
  log.info("request", { method: "GET", path: "/healthz", status: 200, ms: 1.5 });
  log.warn("stripe call failed", { token: "pot_abc", note: "card 4242 4242 4242 4242" });
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^\d\d:\d\d:\d\d INF GET \/healthz 200 1\.5ms request_id=req_1$/);
  assert.match(
    lines[1],
    /^\d\d:\d\d:\d\d WRN stripe call failed token=\*\*\*\* note="card \*\*\*\*4242"/,
  );
  assert.ok(lines.every((l) => !l.includes("\n") && !l.startsWith("{")));
});

Deno.test("config: LOG_FORMAT defaults to pretty on a terminal and json otherwise", async () => {
  const { parseConfig } = await import("../config.ts");
  assert.equal(parseConfig({}, { terminal: true }).logFormat, "pretty");
  assert.equal(parseConfig({}).logFormat, "json");
  assert.equal(parseConfig({ LOG_FORMAT: "json" }, { terminal: true }).logFormat, "json");
  assert.throws(() => parseConfig({ LOG_FORMAT: "xml" }), /LOG_FORMAT must be one of json, pretty/);
});

Deno.test("maskString() with its shortcut answers exactly as the six replacements do", () => {
  // the six patterns of core/log.ts, applied without the shortcut
  const patterns: [RegExp, string | ((...m: string[]) => string)][] = [
    [/\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{4,}/g, (_m, p, env) => `${p}_${env}_****`],
    [/\bwhsec_[A-Za-z0-9+/=]{4,}/g, "whsec_****"],
    [/\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 ****"],
    [/\b(pot|psu|enr)_[A-Za-z0-9_-]{8,}/g, "$1_****"],
    [
      /\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b/g,
      (_m, first, domain) => `${first}***@${domain}`,
    ],
    [/\b\d{3,}(?:[ -]\d{3,})*\b/g, maskCards],
  ];
  const slow = (s: string) =>
    // deno-lint-ignore no-explicit-any
    patterns.reduce((acc, [re, by]) => acc.replace(re, by as any), s);
  const pieces = fc.constantFrom(
    "sk_",
    "live_",
    "test_",
    "whsec_",
    "pot_",
    "enr_",
    "abcdEFGH",
    "Bearer ",
    "bearer ",
    "@",
    "example.com",
    "4242",
    "378",
    "005",
    "4242424242424242",
    " ",
    "-",
    "a",
    "Z",
    "9",
    "/api/admin",
    "req_01",
    ".",
    "pot_x",
  );
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 24 }), (parts) => {
      const s = parts.join("");
      assert.equal(maskString(s), slow(s));
    }),
    { numRuns: 2000 },
  );
  assert.equal(maskString("/api/admin/payments/transactions"), "/api/admin/payments/transactions");
});
