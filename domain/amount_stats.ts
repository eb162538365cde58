/**
 * A customer's payment amounts per currency, kept as exact integer sums
 * (count, sum, sum of squares) rather than a running float mean: adding and
 * taking back amounts in any order gives the same record, so the mean and the
 * deviation `GET /customers/{id}` shows are the same to the last digit
 * whatever order the payments' events arrived in.
 */
import type { AmountStats } from "./customer.ts";

/** The exact sums of `s` (a record kept as Welford's mean and m2 is converted, once). */
function exact(s: AmountStats | undefined): { n: number; sum: number; sq: bigint } {
  if (!s || s.n <= 0) return { n: 0, sum: 0, sq: 0n };
  if (s.sum !== undefined && s.sum_sq !== undefined) {
    return { n: s.n, sum: s.sum, sq: BigInt(s.sum_sq) };
  }
  const mean = s.mean ?? 0;
  const sum = Math.round(s.n * mean);
  return { n: s.n, sum, sq: BigInt(Math.round((s.m2 ?? 0) + s.n * mean * mean)) };
}

function record(n: number, sum: number, sq: bigint): AmountStats | undefined {
  return n > 0 ? { n, sum, sum_sq: sq.toString() } : undefined;
}

/** `s` with one more amount (minor units, a whole number). */
export function withAmount(s: AmountStats | undefined, amount: number): AmountStats {
  const e = exact(s);
  return record(e.n + 1, e.sum + amount, e.sq + BigInt(amount) ** 2n)!;
}

/** `s` with one amount taken back; undefined when none is left. */
export function withoutAmount(
  s: AmountStats | undefined,
  amount: number,
): AmountStats | undefined {
  const e = exact(s);
  if (e.n <= 1) return undefined;
  const sq = e.sq - BigInt(amount) ** 2n;
  return record(e.n - 1, e.sum - amount, sq < 0n ? 0n : sq);
}

/** Count, mean and sample standard deviation; null when there is no amount. */
export function amountSummary(
  s: AmountStats | undefined,
): { count: number; mean: number; stddev: number } | null {
  const { n, sum, sq } = exact(s);
  if (n === 0) return null;
  if (n === 1) return { count: 1, mean: sum, stddev: 0 };
  // n·Σx² − (Σx)² is exact as an integer; one division and one root follow
  const spread = BigInt(n) * sq - BigInt(sum) ** 2n;
  const variance = Number(spread < 0n ? 0n : spread) / (n * (n - 1));
  return { count: n, mean: sum / n, stddev: Math.sqrt(variance) };
}
