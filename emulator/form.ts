import { invalidRequest } from "./errors.ts";

// Stripe's wire format: form-encoded with bracketed nested keys. The SDK sends arrays as
// `expand[0]=x`, curl users usually write `expand[]=x`; both become arrays here.
export type Params = { [key: string]: ParamValue };
export type ParamValue = string | Params | ParamValue[];

function keyPath(raw: string): string[] {
  const open = raw.indexOf("[");
  if (open <= 0) return [raw];
  const parts = [raw.slice(0, open)];
  const re = /\[([^\]]*)\]/g;
  for (const m of raw.slice(open).matchAll(re)) parts.push(m[1]);
  return parts;
}

function isIndex(segment: string): boolean {
  return segment === "" || /^\d+$/.test(segment);
}

export function parseForm(text: string): Params {
  const root: Params = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const path = keyPath(rawKey);
    let node: Params | ParamValue[] = root;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (Array.isArray(node)) {
        const idx = seg === "" ? node.length : Number(seg);
        if (last) node[idx] = value;
        else {
          node[idx] ??= isIndex(path[i + 1]) ? [] : {};
          node = node[idx] as Params | ParamValue[];
        }
      } else {
        if (last) node[seg] = value;
        else {
          const existing = node[seg];
          if (typeof existing !== "object") node[seg] = isIndex(path[i + 1]) ? [] : {};
          node = node[seg] as Params | ParamValue[];
        }
      }
    }
  }
  return root;
}

export function optString(p: Params, key: string): string | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw invalidRequest(`Invalid string: ${key}`, { param: key });
  return v;
}

export function reqString(p: Params, key: string): string {
  const v = optString(p, key);
  if (v === undefined || v === "") {
    throw invalidRequest(`Missing required param: ${key}.`, {
      code: "parameter_missing",
      param: key,
    });
  }
  return v;
}

export function optInt(p: Params, key: string): number | undefined {
  const v = optString(p, key);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) {
    throw invalidRequest(`Invalid integer: ${v}`, {
      code: "parameter_invalid_integer",
      param: key,
    });
  }
  return Number(v);
}

export function optBool(p: Params, key: string): boolean | undefined {
  const v = optString(p, key);
  if (v === undefined) return undefined;
  if (v !== "true" && v !== "false") {
    throw invalidRequest(`Invalid boolean: ${v}`, { param: key });
  }
  return v === "true";
}

export function optObject(p: Params, key: string): Params | undefined {
  const v = p[key];
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "object" || Array.isArray(v)) {
    throw invalidRequest(`Invalid object: ${key}`, { param: key });
  }
  return v;
}

export function stringList(p: Params, key: string): string[] {
  const v = p[key];
  if (v === undefined) return [];
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  throw invalidRequest(`Invalid array: ${key}`, { param: key });
}

/**
 * Applies `metadata[...]` to existing metadata with Stripe's semantics: an empty value
 * unsets that key and `metadata=` (empty string) clears everything.
 */
export function mergeMetadata(
  current: Record<string, string>,
  p: Params,
): Record<string, string> {
  const v = p.metadata;
  if (v === undefined) return current;
  if (v === "") return {};
  if (typeof v !== "object" || Array.isArray(v)) {
    throw invalidRequest("Invalid object: metadata", { param: "metadata" });
  }
  const next = { ...current };
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== "string") {
      throw invalidRequest(`Invalid metadata value for ${k}`, { param: `metadata[${k}]` });
    }
    if (val === "") delete next[k];
    else next[k] = val;
  }
  return next;
}

/** `amount` and `currency` of a payment, validated as Stripe does. */
export function amountAndCurrency(p: Params): { amount: number; currency: string } {
  const raw = reqString(p, "amount");
  const amount = Number(raw);
  if (!/^\d+$/.test(raw) || amount < 1) {
    throw invalidRequest("This value must be greater than or equal to 1.", {
      code: "parameter_invalid_integer",
      param: "amount",
    });
  }
  const currency = reqString(p, "currency");
  if (!/^[a-z]{3}$/.test(currency)) {
    throw invalidRequest(`Invalid currency: ${currency}. Use a lowercase ISO code.`, {
      param: "currency",
    });
  }
  return { amount, currency };
}
