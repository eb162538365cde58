/**
 * CI names the tests a run cut off by its time limit never reported
 * (`scripts/unfinished_tests.ts`, README "Testing"): the names it reads from
 * test files, and the results it reads from a `deno test --parallel` log.
 */
import assert from "node:assert/strict";
import { declaredTests, reportedTests } from "../scripts/unfinished_tests.ts";

Deno.test("unfinished tests: declared names, template instances and the object form are matched to results", () => {
  const source = [
    'Deno.test("plain \\"quoted\\" name", () => {});',
    "for (const k of ks) Deno.test(`a ${k} held (webhooks ${order})`, async () => {});",
    'Deno.test({ name: "object form", fn() {} });',
  ].join("\n");
  const declared = declaredTests(source);
  assert.deepEqual(declared.map((d) => d.name), [
    'plain "quoted" name',
    "a ${k} held (webhooks ${order})",
    "object form",
  ]);
  const log = [
    './tests/x_test.ts => plain "quoted" name ... ok (3ms)',
    "\x1b[0m./tests/x_test.ts => a refund held (webhooks in order) ... \x1b[31mFAILED\x1b[0m (1s)",
    "./tests/y_test.ts => object form ... ok (1ms)",
  ].join("\n");
  const reported = reportedTests(log);
  const seen = reported.get("tests/x_test.ts") ?? [];
  assert.equal(seen.length, 2);
  assert.ok(declared[0].pattern.test(seen[0]));
  assert.ok(declared[1].pattern.test(seen[1]), "a template's instance matches it");
  assert.ok(!declared[1].pattern.test("a refund held"), "the literal parts must all be there");
  assert.ok(!seen.some((n) => declared[2].pattern.test(n)), "object form: reported in y, not x");
  assert.deepEqual(reported.get("tests/y_test.ts"), ["object form"]);
});
