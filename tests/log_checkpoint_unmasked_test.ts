/**
 * The checkpoint log line is the copy of a checkpoint kept outside the service (README, "Audit
 * checkpoints"): written as signed, `seq|hash|at|n` with `at` whole, so its `hmac` can be checked
 * against it, even when `at` (ms since the epoch, 13 digits) passes the Luhn check a card number
 * passes. Free text keeps its masking: a card number in a note, and the same 13 digits typed in
 * one, are still masked.
 */
import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";
import { ManualClock } from "../core/clock.ts";
import { createLogger, luhnValid, verbatim } from "../core/log.ts";
import { checkpointAuditHead } from "../services/audit/mod.ts";
import { signCheckpoint } from "../services/audit/verify.ts";

/** 2026-12-08T03:00:00.026Z in ms: 13 digits that pass the Luhn check */
const LUHN_VALID_AT = 1796701200026;

for (const format of ["json", "pretty"] as const) {
  Deno.test(`checkpoint log line (${format}): a Luhn-valid ms time is written whole and its hmac checks`, async () => {
    assert.ok(luhnValid(String(LUHN_VALID_AT)));
    const t = await createTestApp({
      clock: new ManualClock(LUHN_VALID_AT - 60_000),
      env: { LOG_FORMAT: format },
    });
    try {
      await addRefundEntries(t, 2);
      t.clock.set(LUHN_VALID_AT);
      const made = await checkpointAuditHead(t.deps);
      assert.ok(made.ok && made.checkpoint);
      assert.equal(made.checkpoint.at, LUHN_VALID_AT);
      const line = t.logs.find((l) => l.includes("audit checkpoint"))!;
      const { seq, hash, n, signature } = made.checkpoint;
      const shipped = format === "json"
        ? JSON.parse(line).checkpoint as string
        : /checkpoint=(\S+)/.exec(line)![1];
      assert.equal(shipped, `${seq}|${hash}|${LUHN_VALID_AT}|${n}`, line);
      const [s, h, at, ordinal] = shipped.split("|");
      const body = { seq: Number(s), hash: h, at: Number(at), n: Number(ordinal) };
      assert.equal(await signCheckpoint(t.deps.config.auditSigningKey!, body), signature);
      assert.ok(line.includes(signature));
    } finally {
      await t.close();
    }
  });
}

Deno.test("free text keeps its card masking: a card number in a note, and the same 13 digits typed in one", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l));
  log.info("note", {
    note: "customer read out 4242 4242 4242 4242",
    typed: `at ${LUHN_VALID_AT} they called`,
    checkpoint: verbatim(`40|57cf|${LUHN_VALID_AT}|1`),
  });
  const line = JSON.parse(lines[0]);
  assert.equal(line.note, "customer read out ****4242");
  assert.equal(line.typed, "at ****0026 they called");
  assert.equal(line.checkpoint, `40|57cf|${LUHN_VALID_AT}|1`);
});

Deno.test("verbatim takes only what the service composes from numbers and hex: anything else is refused", () => {
  assert.throws(() => verbatim("card 4242424242424242"), /verbatim/);
  assert.throws(() => verbatim("a@b.example"), /verbatim/);
});
