/**
 * `deno task openapi`: writes openapi/openapi.json, the committed snapshot of
 * the document served at /openapi.json, from an app on a `:memory:` KV.
 * tests/openapi_test.ts fails when the snapshot and the routes drift apart.
 */
import { createApp } from "../app.ts";
import { parseConfig } from "../config.ts";
import { ManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/log.ts";
import { type StripeGateway } from "../services/stripe/mod.ts";

export const SNAPSHOT_URL = new URL("../openapi/openapi.json", import.meta.url);

/** Serving the document never calls Stripe. */
const offlineStripe: StripeGateway = {
  call() {
    return Promise.reject(new Error("writing the OpenAPI snapshot does not call Stripe"));
  },
};

/** Object keys sorted at every level (arrays keep their order), so the snapshot diffs cleanly. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, sortKeys(v)]);
  return Object.fromEntries(entries);
}

/** The snapshot text of a document: sorted keys, two-space indent, trailing newline. */
export function snapshotText(document: unknown): string {
  return JSON.stringify(sortKeys(document), null, 2) + "\n";
}

/** The document as /openapi.json serves it, from a throwaway app. */
export async function liveOpenApiDocument(): Promise<unknown> {
  const kv = await Deno.openKv(":memory:");
  try {
    const config = parseConfig({ KV_PATH: ":memory:" });
    const app = createApp({
      kv,
      clock: new ManualClock(),
      stripe: offlineStripe,
      config: { ...config, auditSigningKey: config.auditSigningKey ?? "openapi-snapshot-key" },
      log: silentLogger(),
    });
    const res = await app.request("/openapi.json");
    if (res.status !== 200) {
      throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
    }
    return await res.json();
  } finally {
    kv.close();
  }
}

if (import.meta.main) {
  const text = snapshotText(await liveOpenApiDocument());
  await Deno.writeTextFile(SNAPSHOT_URL, text);
  const paths = Object.keys((JSON.parse(text) as { paths?: object }).paths ?? {}).length;
  console.log(`wrote ${SNAPSHOT_URL.pathname} (${paths} paths)`);
}
