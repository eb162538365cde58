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
  if (bad.length === 0) return null;
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
