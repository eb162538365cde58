/**
 * Regenerates tests/fixtures/stripe_schemas.json: JSON schemas of the Stripe objects the
 * emulator returns, derived from the type declarations of the stripe SDK pinned in
 * deno.json (required = non-optional properties, additionalProperties false).
 *
 *   deno run -A scripts/stripe_schemas.ts
 *
 * Needs node and npm: the SDK and typescript-json-schema are installed into a temporary
 * directory with npm, and the generator runs under node there.
 */
import { fileURLToPath as fromFileUrl } from "node:url";
import { HANDLED_EVENT_TYPES } from "../domain/stripe_events.ts";

const GENERATOR = "typescript-json-schema@0.68.0";
const OUT = fromFileUrl(new URL("../tests/fixtures/stripe_schemas.json", import.meta.url));
const NODE_SCRIPT = fromFileUrl(new URL("./stripe_schemas_node.cjs", import.meta.url));
const DENO_JSON = fromFileUrl(new URL("../deno.json", import.meta.url));

/** Objects the emulator serves, by their `object` field, and the SDK type of each. */
export const OBJECT_TYPES: Record<string, string> = {
  customer: "Customer",
  payment_method: "PaymentMethod",
  payment_intent: "PaymentIntent",
  charge: "Charge",
  refund: "Refund",
  dispute: "Dispute",
  review: "Review",
  "radar.early_fraud_warning": "Radar.EarlyFraudWarning",
  file: "File",
  balance_transaction: "BalanceTransaction",
};

/** Handled event types (domain/stripe_events.ts) the emulator never sends. */
const NOT_EMITTED = new Set<string>([
  "payment_intent.processing",
  "radar.early_fraud_warning.updated",
  "customer.deleted",
]);

/**
 * Event types the emulator emits; each has its own SDK type with a typed
 * `data.object`: the ones the service handles, less those the emulator never
 * sends, and the ones the service ignores.
 */
export const EVENT_TYPES: string[] = [
  ...HANDLED_EVENT_TYPES.filter((t) => !NOT_EMITTED.has(t)),
  "payment_intent.created",
  "file.created",
];

/** `charge.dispute.funds_withdrawn` -> `ChargeDisputeFundsWithdrawnEvent` (the SDK's naming). */
export function eventTypeName(type: string): string {
  const pascal = type.split(/[._]/).map((w) => w[0].toUpperCase() + w.slice(1)).join("");
  return `${pascal}Event`;
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(cmd, { args, cwd, stdout: "null" }).output();
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

function stripeVersion(): string {
  const config = JSON.parse(Deno.readTextFileSync(DENO_JSON));
  const m = /^npm:stripe@(.+)$/.exec(config.imports.stripe);
  if (!m) throw new Error(`deno.json does not pin stripe: ${config.imports.stripe}`);
  return m[1];
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** Drops the SDK's doc comments (most of the bytes) and fixes what the generator misreads. */
function tidy(node: Json): Json {
  if (Array.isArray(node)) return node.map(tidy);
  if (!node || typeof node !== "object") return node;
  // `deleted?: void` on live objects comes out as an empty union: the property never occurs.
  if (Array.isArray(node.anyOf) && node.anyOf.length === 0) return { not: {} };
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "description") continue;
    // Under these keys the names are property or definition names (`description` included).
    out[k] = k === "properties" || k === "definitions" ? tidyEach(v) : tidy(v);
  }
  return out;
}

function tidyEach(map: Json): Json {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, tidy(v)]));
}

async function main(): Promise<void> {
  const version = stripeVersion();
  const dir = await Deno.makeTempDir({ prefix: "stripe_schemas_" });
  try {
    await run("npm", ["init", "-y"], dir);
    await run("npm", ["install", "--no-audit", "--no-fund", `stripe@${version}`, GENERATOR], dir);
    const roots = [
      ...Object.values(OBJECT_TYPES).map((t) => [`Root_${t.replace(".", "_")}`, t]),
      ...EVENT_TYPES.map((t) => [`Root_${eventTypeName(t)}`, eventTypeName(t)]),
    ];
    const entry = [
      'import type Stripe from "stripe";',
      ...roots.map(([root, t]) => `export type ${root} = Stripe.${t};`),
    ].join("\n");
    await Deno.writeTextFile(`${dir}/entry.ts`, entry + "\n");
    const raw = `${dir}/schemas.json`;
    // Copied in so that node resolves the generator from the temporary node_modules.
    await Deno.copyFile(NODE_SCRIPT, `${dir}/generate.cjs`);
    await run("node", ["generate.cjs", "entry.ts", raw, ...roots.map((r) => r.join("="))], dir);
    const generated = tidy(JSON.parse(await Deno.readTextFile(raw)));
    const definitions = generated.definitions;
    // `OtherString` is `string & Record<never, never>` (an open enum); the generator reads
    // the intersection as an empty object, so it is put back to what it means: any string.
    definitions.OtherString = { type: "string" };
    const fixture = {
      $comment: "Generated by scripts/stripe_schemas.ts from the stripe SDK's type declarations",
      stripe_version: version,
      generator: GENERATOR,
      // Where to look a served object (by its `object` field) or an event (by type) up.
      objects: Object.fromEntries(
        Object.entries(OBJECT_TYPES).map(([o, t]) => [o, `Root_${t.replace(".", "_")}`]),
      ),
      events: Object.fromEntries(EVENT_TYPES.map((t) => [t, `Root_${eventTypeName(t)}`])),
      definitions,
    };
    await Deno.writeTextFile(OUT, JSON.stringify(fixture, null, 1) + "\n");
    // deno fmt owns the repository's JSON layout; formatting here keeps `deno fmt --check` clean.
    await run(Deno.execPath(), ["fmt", OUT], dir);
    console.log(`wrote ${OUT}: ${Object.keys(definitions).length} definitions, stripe@${version}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
