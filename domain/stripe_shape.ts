/**
 * The fields of a Stripe object the service cannot apply without. Stripe
 * sends them on every object of these types (the SDK's types mark them
 * required), so an event missing one was not sent by Stripe as it is: its
 * record says which field, instead of whatever a missing value breaks later.
 */

type Kind = "string" | "number";

const MONEY: Record<string, Kind> = {
  id: "string",
  amount: "number",
  currency: "string",
  status: "string",
};

const REQUIRED: Record<string, Record<string, Kind>> = {
  payment_intent: { ...MONEY, created: "number" },
  charge: { ...MONEY, created: "number" },
  refund: MONEY,
  dispute: MONEY,
  customer: { id: "string" },
  payment_method: { id: "string" },
};

/**
 * The money amounts the service reads from each object, in the currency's
 * smallest unit: `amount` is required above, the others Stripe may leave out
 * and are checked when present. Stripe's amounts are whole numbers, never
 * negative; one the service cannot count exactly (past 2^53 - 1) is refused
 * too, as no Stripe amount comes near it. A dispute's balance transactions
 * are signed (a withdrawal is negative): whole numbers, either sign.
 */
const AMOUNTS: Record<string, string[]> = {
  payment_intent: ["amount", "amount_received", "amount_capturable"],
  charge: ["amount", "amount_captured", "amount_refunded"],
  refund: ["amount"],
  dispute: ["amount"],
};
const SIGNED_LIST: Record<string, { list: string; fields: string[] }> = {
  dispute: { list: "balance_transactions", fields: ["amount", "fee"] },
};

function amountProblem(path: string, value: unknown, signed: boolean): string | null {
  if (value === undefined || value === null) return null;
  let what: string | null = null;
  if (typeof value !== "number") what = `is a ${typeof value}, not a number`;
  else if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER) {
    what = "is too large to be counted exactly";
  } else if (!Number.isInteger(value)) {
    what = "is not a whole number of the currency's smallest unit";
  } else if (!signed && value < 0) what = "is negative";
  if (!what) return null;
  const kind = signed ? "whole numbers" : "whole, non-negative numbers";
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return `data.object.${path}: ${shown} ${what}. Stripe sends amounts as ${kind} of the ` +
    "currency's smallest unit, so this event was not sent by Stripe as it is; it cannot be applied";
}

/** The first money amount of `o` (a `type` object) the service cannot count, in words. */
function amountsProblem(type: string, o: Record<string, unknown>): string | null {
  for (const name of AMOUNTS[type] ?? []) {
    const problem = amountProblem(name, o[name], false);
    if (problem) return problem;
  }
  const nested = SIGNED_LIST[type];
  const list = nested && Array.isArray(o[nested.list]) ? o[nested.list] as unknown[] : [];
  for (const [i, item] of list.entries()) {
    if (!item || typeof item !== "object") continue;
    for (const name of nested.fields) {
      const value = (item as Record<string, unknown>)[name];
      const problem = amountProblem(`${nested.list}.${i}.${name}`, value, true);
      if (problem) return problem;
    }
  }
  return null;
}

/** What is wrong with `object` for the service, in words, or null when nothing is. */
export function shapeProblem(object: unknown): string | null {
  if (!object || typeof object !== "object") return "data.object is not an object";
  const o = object as Record<string, unknown>;
  const type = typeof o.object === "string" ? o.object : null;
  const fields = type ? REQUIRED[type] : undefined;
  if (!fields) return null;
  const bad = Object.entries(fields).filter(([name, kind]) =>
    kind === "number" ? typeof o[name] !== "number" : typeof o[name] !== "string"
  );
  if (bad.length === 0) return amountsProblem(type!, o);
  const id = typeof o.id === "string" ? ` ${o.id}` : "";
  const list = bad.map(([name, kind]) =>
    `${name} (${kind === "number" ? "a number" : "a string"}${
      o[name] === undefined ? ", missing" : `, got ${o[name] === null ? "null" : typeof o[name]}`
    })`
  ).join(", ");
  return `${type}${id} lacks what the service needs: ${list}. Stripe sends ${
    bad.length > 1 ? "these" : "it"
  } on every ${type}, so this event was not sent by Stripe as it is; it cannot be applied`;
}
