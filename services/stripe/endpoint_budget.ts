/**
 * Per-endpoint sub-buckets of the Stripe budget (README, "Stripe budget").
 */
import type { TokenBucket } from "../../kv/token_bucket.ts";

/**
 * Stripe limits each endpoint on its own, below the account's overall rate
 * (README, "Stripe budget"): 25 requests/s by default, 20/s for Files and for
 * Search. A request pays a token of its endpoint's sub-bucket as well as one
 * of the shared budget, so one kind of call can take no more than its
 * endpoint allows, and leaves the rest of the budget to the others.
 * Each sub-bucket refills at 4/5 of the limit with a burst of 1/5, so no
 * one-second window holds more than the limit, opening burst included.
 */
export const ENDPOINT_LIMIT_PER_S = 25;
export const FILES_LIMIT_PER_S = 20;
export const SEARCH_LIMIT_PER_S = 20;

/** The sub-bucket a request path pays into: its name (shared by isolates) and Stripe's limit. */
export function endpointBudget(
  path: string,
  endpointLimitPerS = ENDPOINT_LIMIT_PER_S,
): { name: string; limitPerS: number } {
  const parts = path.split("?")[0].split("/").filter(Boolean); // ["v1", "customers", "cus_1"]
  const resource = (parts[0] === "v1" ? parts[1] : parts[0]) ?? "root";
  if (resource === "files") return { name: "stripe_files", limitPerS: FILES_LIMIT_PER_S };
  if (parts.at(-1) === "search") return { name: "stripe_search", limitPerS: SEARCH_LIMIT_PER_S };
  return { name: `stripe_endpoint_${resource}`, limitPerS: endpointLimitPerS };
}

/**
 * One sub-bucket per endpoint, made on its first request. An endpoint whose
 * limit the shared budget cannot reach even with its burst spent in one second
 * (`sharedMaxPerS`) gets none: it would cost a KV commit per request for nothing.
 */
export function endpointBuckets(
  make: (name: string, ratePerS: number, burst: number) => TokenBucket,
  endpointLimitPerS = ENDPOINT_LIMIT_PER_S,
  sharedMaxPerS = Infinity,
): (path: string) => TokenBucket | null {
  const buckets = new Map<string, TokenBucket | null>();
  return (path) => {
    const { name, limitPerS } = endpointBudget(path, endpointLimitPerS);
    let bucket = buckets.get(name);
    if (bucket === undefined) {
      const burst = Math.max(1, Math.floor(limitPerS / 5));
      bucket = limitPerS >= sharedMaxPerS ? null : make(name, limitPerS - burst, burst);
      buckets.set(name, bucket);
    }
    return bucket;
  };
}
