/**
 * A customer's amount statistics are exact integer sums (domain/amount_stats.ts):
 * any order of the same amounts, added or taken back, gives the same record and
 * the same mean and deviation to the last digit.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { AmountStats } from "../domain/customer.ts";
import { amountSummary, withAmount, withoutAmount } from "../domain/amount_stats.ts";

const amounts = fc.array(fc.integer({ min: 1, max: 99_999_999 }), { minLength: 1, maxLength: 40 });

function fold(xs: number[], from?: AmountStats): AmountStats | undefined {
  return xs.reduce<AmountStats | undefined>((s, x) => withAmount(s, x), from);
}

Deno.test("amountSummary(): every order of the same amounts gives the same figures, to the last digit", () => {
  fc.assert(
    fc.property(
      amounts.chain((xs) =>
        fc.tuple(
          fc.constant(xs),
          fc.shuffledSubarray(xs, { minLength: xs.length, maxLength: xs.length }),
        )
      ),
      ([xs, shuffled]) => {
        assert.deepEqual(fold(shuffled), fold(xs));
        const s = amountSummary(fold(xs))!;
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        assert.ok(Math.abs(s.mean - mean) <= Math.abs(mean) * 1e-12);
        if (xs.length > 1) {
          const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1);
          assert.ok(Math.abs(s.stddev - Math.sqrt(variance)) <= Math.sqrt(variance) * 1e-9 + 1e-6);
        } else assert.equal(s.stddev, 0);
      },
    ),
  );
});

Deno.test("withoutAmount(): taking an amount back gives the record it was never added to", () => {
  fc.assert(
    fc.property(amounts, fc.integer({ min: 1, max: 99_999_999 }), (xs, extra) => {
      assert.deepEqual(withoutAmount(fold([...xs, extra]), extra), fold(xs));
      assert.equal(withoutAmount(fold([extra]), extra), undefined);
    }),
  );
});

Deno.test("a record kept as Welford's mean and m2 (before this change) is read and converted", () => {
  const legacy: AmountStats = { n: 3, mean: 2000, m2: 2_000_000 };
  assert.deepEqual(amountSummary(legacy), { count: 3, mean: 2000, stddev: 1000 });
  assert.deepEqual(withAmount(legacy, 4000), { n: 4, sum: 10000, sum_sq: "30000000" });
  assert.deepEqual(amountSummary(withAmount(legacy, 4000)), {
    count: 4,
    mean: 2500,
    stddev: Math.sqrt(5_000_000 / 3),
  });
});
