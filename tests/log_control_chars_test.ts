/**
 * Log forging: a value that carries control characters (a request path with an encoded newline
 * or ESC, a note, an error message) is written escaped, never raw, in every field and in the
 * message, with `LOG_FORMAT=pretty` as with JSON lines (README, "Security"): one event is one
 * line, and nothing in it moves a terminal's cursor, hides text or reorders it.
 */
import assert from "node:assert/strict";
import { createLogger } from "../core/log.ts";
import { withTestApp } from "./helpers/app.ts";

/** Each class of character that must never reach the output raw. */
const CLASSES: Record<string, string[]> = {
  "C0 controls (ESC, newline, carriage return, tab, NUL, BEL, backspace)": [
    "\x1b",
    "\n",
    "\r",
    "\t",
    "\x00",
    "\x07",
    "\b",
  ],
  "DEL": ["\x7f"],
  "C1 controls (CSI, NEL)": ["\x80", "\x85", "\x9b", "\x9f"],
  "line and paragraph separators": ["\u2028", "\u2029"],
  "bidi embeddings, overrides, isolates and marks": [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
  ],
};

/** How JSON writes `c` escaped: `\n`, `\t`…, else `\u` and four lowercase hex digits. */
function escaped(c: string): string {
  const short: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b" };
  return short[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

const name = (c: string) => `U+${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** Every character a terminal or a line-reading tool takes as the end of a line. */
const LINE_BREAK = /[\n\r\v\f\x85\u2028\u2029]/;

function capture(format: "json" | "pretty") {
  const lines: string[] = [];
  return { lines, log: createLogger("debug", (l) => lines.push(l), {}, format) };
}

for (const [label, chars] of Object.entries(CLASSES)) {
  Deno.test(`pretty logs: ${label} are escaped in every field, the message and the request line`, () => {
    for (const c of chars) {
      const { lines, log } = capture("pretty");
      log.info(`msg ${c} end`, {
        field: `a${c}b`,
        plain: `a${c}`,
        nested: { x: `a${c}b` },
        list: [`a${c}b`],
        error: new Error(`e${c}f`),
        [`k${c}`]: 1,
      });
      log.info("request", { method: "GET", path: `/p${c}q`, status: 404, ms: 1.5 });
      assert.equal(lines.length, 2);
      for (const line of lines) {
        assert.ok(!line.includes(c), `${name(c)} raw in ${JSON.stringify(line)}`);
      }
      const e = escaped(c);
      const [event, request] = lines;
      assert.match(event, /^\d\d:\d\d:\d\d INF /);
      assert.ok(event.includes(` INF "msg ${e} end" `), `${name(c)}: ${event}`);
      assert.ok(event.includes(` field="a${e}b"`), `${name(c)}: ${event}`);
      assert.ok(event.includes(` plain="a${e}"`), `${name(c)}: ${event}`);
      assert.ok(event.includes(` nested={"x":"a${e}b"}`), `${name(c)}: ${event}`);
      assert.ok(event.includes(` list=["a${e}b"]`), `${name(c)}: ${event}`);
      assert.ok(event.includes(` error="Error: e${e}f"`), `${name(c)}: ${event}`);
      assert.ok(event.includes(` "k${e}"=1`), `${name(c)}: ${event}`);
      assert.match(request, /^\d\d:\d\d:\d\d INF GET "\/p.+q" 404 1\.5ms$/);
      assert.ok(request.includes(` GET "/p${e}q" 404 1.5ms`), `${name(c)}: ${request}`);
      // what is quoted reads back as it was
      assert.equal(
        JSON.parse(request.slice(request.indexOf('"'), request.lastIndexOf('"') + 1)),
        `/p${c}q`,
      );
    }
  });

  Deno.test(`JSON logs: ${label} are escaped, and read back as they were`, () => {
    for (const c of chars) {
      const { lines, log } = capture("json");
      log.info(`msg ${c} end`, { field: `a${c}b`, nested: { x: `a${c}b` } });
      assert.equal(lines.length, 1);
      assert.ok(!lines[0].includes(c), `${name(c)} raw in ${JSON.stringify(lines[0])}`);
      assert.doesNotMatch(lines[0], LINE_BREAK);
      const entry = JSON.parse(lines[0]);
      assert.equal(entry.msg, `msg ${c} end`);
      assert.equal(entry.field, `a${c}b`);
      assert.equal(entry.nested.x, `a${c}b`);
    }
  });
}

Deno.test("pretty logs: plain values stay unquoted, and masking still applies before escaping", () => {
  const { lines, log } = capture("pretty");
  log.info("listening", { port: 8000, host: "localhost" });
  log.info("request", {
    method: "GET",
    path: "/api/admin/enroll/enr_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\n4242 4242 4242 4242\x1b[8m",
    status: 404,
    ms: 2,
  });
  assert.match(lines[0], /^\d\d:\d\d:\d\d INF listening port=8000 host=localhost$/);
  assert.ok(!lines[1].includes("ABCDEFGH"), lines[1]);
  assert.ok(!lines[1].includes("4242 4242"), lines[1]);
  assert.ok(
    lines[1].endsWith(` GET "/api/admin/enroll/enr_****\\n****4242\\u001b[8m" 404 2ms`),
    lines[1],
  );
});

Deno.test("the reviewer's repro: an encoded newline and ESC in the path forge no line with LOG_FORMAT=pretty", async () => {
  await withTestApp(async (t) => {
    const forged = "17:20:00 INF POST /api/admin/payments/refunds/rfd_X/approve 200 3.1ms " +
      "request_id=req_X";
    const res = await t.app.request(
      "http://localhost/healthz%0a17:20:00%20INF%20POST%20/api/admin/payments/refunds/rfd_X/approve" +
        "%20200%203.1ms%20request_id=req_X%1b%5b8m",
    );
    assert.equal(res.status, 404);
    await res.body?.cancel();
    const output = t.logs.join("\n");
    assert.ok(!output.includes("\x1b"), "an ESC byte reached the log");
    assert.equal(t.logs.filter((l) => LINE_BREAK.test(l)).length, 0, output);
    const requestLines = output.split("\n").filter((l) => l.includes("healthz"));
    assert.equal(requestLines.length, 1, output);
    const line = requestLines[0];
    assert.match(line, /^\d\d:\d\d:\d\d INF GET "\/healthz\\n17:20:00 INF POST /);
    assert.ok(line.includes(`"/healthz\\n${forged}\\u001b[8m" 404 `), line);
    assert.match(line, / request_id=req_\S+$/);
    // the forged text is there only escaped, inside the quoted path: never a line of its own
    assert.ok(output.split("\n").every((l) => !l.startsWith("17:20:00")), output);
  }, { env: { LOG_FORMAT: "pretty" } });
});

Deno.test("JSON logs: the same request is one line whose path reads back as sent, decoded", async () => {
  await withTestApp(async (t) => {
    const res = await t.app.request("http://localhost/healthz%0aX%1b%5b8m%E2%80%A8Y");
    await res.body?.cancel();
    const lines = t.logs.filter((l) => l.includes("healthz"));
    assert.equal(lines.length, 1);
    assert.ok(!lines[0].includes("\x1b") && !lines[0].includes("\u2028"), lines[0]);
    assert.equal(JSON.parse(lines[0]).path, "/healthz\nX\x1b[8m\u2028Y");
  });
});
