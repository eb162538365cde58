/**
 * Card numbers in logs, audit entries and notes (README, Security): every PAN
 * length cards have (13 to 19 digits: Amex 15, Diners 14, Visa 13/16/19), as
 * people type them (runs, spaces, dashes), keeps only its last four digits;
 * numbers of that length that are no card number (they fail the Luhn check:
 * order numbers, ids) are left as they are.
 */
import assert from "node:assert/strict";
import { createLogger, maskString } from "../core/log.ts";

Deno.test("maskString() masks 13- to 19-digit card numbers, typed as runs, with spaces or dashes", () => {
  const cases: [string, string][] = [
    ["amex 378282246310005", "amex ****0005"],
    ["amex 3782 822463 10005", "amex ****0005"],
    ["amex 3782-822463-10005", "amex ****0005"],
    ["30569309025904", "****5904"], // Diners, 14
    ["diners 3056 930902 5904.", "diners ****5904."],
    ["visa13 4222222222222", "visa13 ****2222"],
    ["visa 4242 4242 4242 4242", "visa ****4242"],
    ["visa19 4000 0000 0000 0000 006", "visa19 ****0006"],
    ["visa19 4000000000000000006", "visa19 ****0006"],
    ["unionpay 6200000000000005", "unionpay ****0005"],
  ];
  for (const [typed, masked] of cases) assert.equal(maskString(typed), masked, typed);
});

Deno.test("maskString() leaves numbers that are no card number (Luhn fails, or too short/long)", () => {
  for (
    const s of [
      "order 378282246310006", // one digit off Amex: fails Luhn
      "order 1234567890123", // 13 digits, fails Luhn
      "ref 4242 4242 4242 4241",
      "424242424242", // 12 digits
      "42424242424242424242", // 20 digits
      "at 1700000000000 ms",
    ]
  ) assert.equal(maskString(s), s);
});

Deno.test("the acceptance case: an Amex and a Visa in one note, and in a log line", () => {
  const note = "amex 378282246310005 and visa 4242424242424242";
  assert.equal(maskString(note), "amex ****0005 and visa ****4242");
  const lines: string[] = [];
  createLogger("info", (l) => lines.push(l)).info("refund asked", { note });
  assert.equal(JSON.parse(lines[0]).note, "amex ****0005 and visa ****4242");
});

Deno.test("maskString() finds a card among other numbers typed next to it, in groups of three too", () => {
  assert.equal(maskString("card 4242 4242 4242 4242 123 items"), "card ****4242 123 items");
  assert.equal(maskString("qty 12 4242-4242-4242-4242"), "qty 12 ****4242");
  assert.equal(maskString("order 100 378282246310005"), "order 100 ****0005");
  assert.equal(maskString("amex 378 282 246 310 005"), "amex ****0005");
  assert.equal(maskString("on 2026-11-26 at 12:00"), "on 2026-11-26 at 12:00");
});
