/**
 * The fields of a Stripe object the service cannot apply without. Stripe
 * sends them on every object of these types (the SDK's types mark them
 * required), so an event missing one was not sent by Stripe as it is: its
 * record says which field, instead of whatever a missing value breaks later.
 */
import { stripeTimeProblem } from "./stripe_time.ts";

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
  refund: { ...MONEY, created: "number" },
  dispute: { ...MONEY, created: "number" },
  customer: { id: "string", created: "number" },
  payment_method: { id: "string" },
  "radar.early_fraud_warning": { id: "string", created: "number" },
  review: { id: "string", created: "number" },
};

/**
 * The times the service turns into dates (README "API": every time shown is
 * ISO), by path; a list's items are `list.*.field`. Stripe sends each as whole
 * seconds since the epoch; `due_by` may be null (no deadline), and a listed
 * object (a PaymentIntent's charges, a charge's refunds, in older API
 * versions) is checked like its own events'.
 */
const TIMES: Record<string, string[]> = {
  payment_intent: ["created", "charges.data.*.created", "charges.data.*.refunds.data.*.created"],
  charge: ["created", "refunds.data.*.created"],
  refund: ["created"],
  dispute: ["created", "evidence_details.due_by"],
  customer: ["created"],
  "radar.early_fraud_warning": ["created"],
  review: ["created"],
};

/** Each value at `path` under `o` (`*`: every item of a list), with its concrete path. */
function valuesAt(o: unknown, path: string[], at = ""): { path: string; value: unknown }[] {
  if (path.length === 0) return [{ path: at, value: o }];
  if (!o || typeof o !== "object") return [];
  const [head, ...rest] = path;
  const join = (p: string) => at ? `${at}.${p}` : p;
  if (head === "*") {
    if (!Array.isArray(o)) return [];
    return o.flatMap((item, i) => valuesAt(item, rest, join(String(i))));
  }
  return valuesAt((o as Record<string, unknown>)[head], rest, join(head));
}

/** The first time of `o` (a `type` object) the service cannot show, in words. */
function timesProblem(type: string, o: Record<string, unknown>): string | null {
  for (const path of TIMES[type] ?? []) {
    for (const { path: at, value } of valuesAt(o, path.split("."))) {
      if (value === undefined || value === null) continue; // a required one is checked above
      const what = stripeTimeProblem(value);
      if (!what) continue;
      const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
      return `data.object.${at}: ${shown} ${what}. Stripe sends times as whole seconds since ` +
        "the epoch (1970), so this event was not sent by Stripe as it is; it cannot be applied";
    }
  }
  return null;
}

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

/**
 * Ids longer than this are refused: Stripe's are far shorter, and the service
 * keeps them in KV keys (at most 2,049 bytes, several ids in some).
 */
export const STRIPE_ID_MAX = 255;

/**
 * The ids the service keeps in keys, by path (a value may be an id or an
 * expanded object with its `id`; a list's items are `list.*.field`).
 */
const IDS: Record<string, string[]> = {
  payment_intent: [
    "id",
    "customer",
    "payment_method",
    "latest_charge",
    "last_payment_error.payment_method",
    "charges.data.*.id",
    "charges.data.*.customer",
    "charges.data.*.payment_intent",
    "charges.data.*.payment_method",
    "charges.data.*.refunds.data.*.id",
  ],
  charge: ["id", "customer", "payment_intent", "payment_method", "refunds.data.*.id"],
  refund: ["id", "charge", "payment_intent"],
  dispute: ["id", "charge", "payment_intent"],
  customer: ["id"],
  payment_method: ["id", "customer"],
  "radar.early_fraud_warning": ["id", "charge", "payment_intent"],
  review: ["id", "charge", "payment_intent"],
};

function idProblem(path: string, value: unknown): string | null {
  const expanded = value && typeof value === "object" && !Array.isArray(value);
  const id = expanded ? (value as { id?: unknown }).id : value;
  if (typeof id !== "string" || id.length <= STRIPE_ID_MAX) return null;
  return `${path}${expanded ? ".id" : ""}: an id of ${id.length} characters ` +
    `(${JSON.stringify(id.slice(0, 12) + "…")}), past the ${STRIPE_ID_MAX} the service keeps. ` +
    "Stripe's ids are far shorter, so this event was not sent by Stripe as it is; it cannot be applied";
}

/** The first id of `o` (a `type` object) too long to keep, in words. */
function idsProblem(type: string, o: Record<string, unknown>): string | null {
  for (const path of IDS[type] ?? []) {
    for (const { path: at, value } of valuesAt(o, path.split("."))) {
      const problem = idProblem(`data.object.${at}`, value);
      if (problem) return problem;
    }
  }
  return null;
}

/** Events the applier takes by their type alone (the others, by their family below). */
const BY_EVENT_TYPE: Record<string, string> = {
  "customer.created": "customer",
  "customer.updated": "customer",
  "customer.deleted": "customer",
  "payment_method.attached": "payment_method",
  "payment_method.detached": "payment_method",
  "charge.refund.updated": "refund",
};

/**
 * The families of events about payments the applier takes (their types, by
 * prefix, as it does), and the kind of object Stripe sends with each; the
 * first that fits decides (a `charge.dispute.*` is about a dispute).
 */
const BY_PREFIX: [string, string][] = [
  ["payment_intent.", "payment_intent"],
  ["charge.dispute.", "dispute"],
  ["charge.", "charge"],
  ["refund.", "refund"],
  ["radar.early_fraud_warning.", "radar.early_fraud_warning"],
  ["review.", "review"],
];

/** The kind of object Stripe sends with an `eventType` event, for those the service applies. */
function expectedKind(eventType: string): string | undefined {
  return BY_EVENT_TYPE[eventType] ?? BY_PREFIX.find(([p]) => eventType.startsWith(p))?.[1];
}

/**
 * What is wrong with `object` (the `data.object` of an `eventType` event,
 * `previous` its `data.previous_attributes`) for the service, in words, or
 * null when nothing is.
 */
export function shapeProblem(
  object: unknown,
  eventType?: string,
  previous?: unknown,
): string | null {
  if (!object || typeof object !== "object" || Array.isArray(object)) {
    const got = object === null
      ? "null"
      : Array.isArray(object)
      ? "an array"
      : `a ${typeof object}`;
    return `data.object is ${got}, not a Stripe object. Stripe sends the object an event is ` +
      "about as a JSON object, so this event was not sent by Stripe as it is; it cannot be applied";
  }
  const o = object as Record<string, unknown>;
  const type = typeof o.object === "string" ? o.object : null;
  const expected = eventType ? expectedKind(eventType) : undefined;
  if (expected && type !== expected) {
    return `data.object.object: ${type === null ? "missing" : JSON.stringify(type)}, not ` +
      `"${expected}". Stripe sends a ${expected} with every ${eventType} event, so this event ` +
      "was not sent by Stripe as it is; it cannot be applied";
  }
  const fields = type ? REQUIRED[type] : undefined;
  if (!fields) return null;
  // A deleted customer is its id alone (Stripe's `DeletedCustomer`): no `created`.
  const deleted = type === "customer" && (o.deleted === true || eventType === "customer.deleted");
  const bad = Object.entries(fields).filter(([name, kind]) =>
    deleted && name === "created" && o[name] === undefined
      ? false
      : kind === "number"
      ? typeof o[name] !== "number"
      : typeof o[name] !== "string"
  );
  if (bad.length === 0) {
    return timesProblem(type!, o) ?? amountsProblem(type!, o) ?? idsProblem(type!, o) ??
      // the customer a payment method was detached from (services/ingest/customers.ts)
      (eventType === "payment_method.detached" && previous && typeof previous === "object"
        ? idProblem(
          "data.previous_attributes.customer",
          (previous as Record<string, unknown>).customer,
        )
        : null);
  }
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
