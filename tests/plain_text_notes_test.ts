/**
 * Notes and other free text a person writes are plain text (README, "Inputs
 * and headers"): a control character other than tab and new lines (a NUL, an
 * escape sequence that would recolour the next reader's terminal) or half of a
 * surrogate pair is 422 naming the field, the character and the fix, before
 * anything is looked up or written; tabs and new lines pass.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { auditEntries } from "./helpers/identity.ts";

const BASE = "/api/admin/payments";
// well-formed ids nothing answers to: a body refused as text never gets as far as the lookup
const DSP = "dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";
const FA = "fa_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";
const OPS = "ops_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";

Deno.test("a note with a control character or a lone surrogate is 422 naming the field; tabs and new lines pass", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const h = authHeaders(admin);
    const cases: [string, string, Record<string, unknown>, string][] = [
      ["POST", `${BASE}/disputes/${DSP}/notes`, { text: "called\u0000 the bank" }, "body.text"],
      ["PATCH", `${BASE}/fraud/alerts/${FA}`, {
        status: "investigating",
        note: "see \u001b[31mred\u001b[0m",
      }, "body.note"],
      ["POST", `${BASE}/ops-alerts/${OPS}/close`, { note: "fixed \ud800 by hand" }, "body.note"],
      ["POST", `${BASE}/fraud/snoozes`, {
        customer: "cus_Example0000000000",
        rule: "velocity",
        until: new Date(t.clock.now() + 86_400_000).toISOString(),
        note: "known\u0007 buyer",
      }, "body.note"],
    ];
    const before = (await auditEntries(t.kv)).length;
    for (const [method, path, body, field] of cases) {
      const res = await sendJson(t, method, path, h, body);
      assert.equal(res.status, 422, path);
      const error = res.body.errors.find((e: { path: string }) => e.path === field);
      assert.ok(error, `${path}: ${JSON.stringify(res.body.errors)}`);
      assert.match(error.message, /control character U\+00(00|1B|07)|not well-formed Unicode/);
      assert.match(error.message, /remove it|send the text as UTF-8/);
    }
    assert.equal((await auditEntries(t.kv)).length, before, "nothing decided, nothing audited");

    // tabs and new lines are text: the same dispute note gets as far as the lookup (404)
    const fine = await sendJson(t, "POST", `${BASE}/disputes/${DSP}/notes`, h, {
      text: "called the bank\n\tthey will write back",
    });
    assert.equal(fine.status, 404);
  });
});
