import { invalidRequest, resourceMissing } from "./errors.ts";
import { optInt, optObject, optString, type Params } from "./form.ts";
import type { StripeObject } from "./object.ts";

export type { StripeObject };

export const COLLECTIONS = {
  customers: { prefix: "cus", name: "customer" },
  payment_methods: { prefix: "pm", name: "payment_method" },
  payment_intents: { prefix: "pi", name: "payment_intent" },
  charges: { prefix: "ch", name: "charge" },
  refunds: { prefix: "re", name: "refund" },
  disputes: { prefix: "du", name: "dispute" },
  early_fraud_warnings: { prefix: "issfr", name: "radar.early_fraud_warning" },
  reviews: { prefix: "prv", name: "review" },
  balance_transactions: { prefix: "txn", name: "balance_transaction" },
  files: { prefix: "file", name: "file" },
  events: { prefix: "evt", name: "event" },
} as const;
export type CollectionName = keyof typeof COLLECTIONS;

export interface IdempotentRecord {
  key: string;
  fingerprint: string;
  status: number;
  body: string;
  requestId: string;
  createdMs: number;
}

/** All emulator state; Maps keep insertion order, which breaks ties between equal `created`. */
export interface Store {
  objects: Record<CollectionName, Map<string, StripeObject>>;
  idempotency: Map<string, IdempotentRecord>;
  /** Decline times (ms) per card fingerprint, for Stripe's card decline rate limit. */
  declines: Map<string, number[]>;
  /** Bytes of uploaded files by file id (not persisted: only the File objects are). */
  fileBodies: Map<string, Uint8Array>;
  /** PaymentMethods authenticated with `setup_future_usage`: later off-session use is exempt. */
  setUp: Set<string>;
}

export function newStore(): Store {
  const objects = {} as Record<CollectionName, Map<string, StripeObject>>;
  for (const name of Object.keys(COLLECTIONS) as CollectionName[]) objects[name] = new Map();
  return {
    objects,
    idempotency: new Map(),
    declines: new Map(),
    fileBodies: new Map(),
    setUp: new Set(),
  };
}

export function put(store: Store, collection: CollectionName, obj: StripeObject): StripeObject {
  store.objects[collection].set(obj.id, obj);
  return obj;
}

export function getOr404(store: Store, collection: CollectionName, id: string): StripeObject {
  const obj = store.objects[collection].get(id);
  if (!obj) throw resourceMissing(COLLECTIONS[collection].name, id);
  return obj;
}

export function findById(store: Store, id: string): StripeObject | undefined {
  for (const map of Object.values(store.objects)) {
    const obj = map.get(id);
    if (obj) return obj;
  }
  return undefined;
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Replaces id strings by their objects along dotted paths (`data.latest_charge`, `charge.customer`). */
export function expand(store: Store, value: StripeObject, paths: string[]): StripeObject {
  let out = clone(value);
  for (const path of paths) out = expandPath(store, out, path.split("."), path);
  return out;
}

function expandPath(store: Store, node: unknown, segs: string[], full: string): StripeObject {
  if (Array.isArray(node)) {
    return node.map((n) => expandPath(store, n, segs, full)) as unknown as StripeObject;
  }
  if (!node || typeof node !== "object") return node as StripeObject;
  const obj = node as StripeObject;
  const [head, ...rest] = segs;
  if (!(head in obj)) {
    throw invalidRequest(`This property cannot be expanded (${full}).`, { param: "expand" });
  }
  let child = obj[head];
  if (typeof child === "string") {
    const found = findById(store, child);
    if (found) child = clone(found);
  }
  obj[head] = rest.length ? expandPath(store, child, rest, full) : child;
  return obj;
}

export type Filter = (obj: StripeObject) => boolean;

/** Stripe's list envelope: newest first, cursor by object id, `created[gte|gt|lte|lt]`. */
export function listObjects(
  items: Iterable<StripeObject>,
  params: Params,
  url: string,
  filters: Filter[] = [],
): StripeObject {
  const limit = optInt(params, "limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidRequest("Invalid limit: must be between 1 and 100", { param: "limit" });
  }
  const created = createdFilter(params);
  const all = [...items].filter((o) => created(o) && filters.every((f) => f(o)));
  const sorted = all.map((o, i) => ({ o, i }))
    .sort((a, b) => (b.o.created - a.o.created) || (b.i - a.i))
    .map((x) => x.o);
  const after = optString(params, "starting_after");
  const before = optString(params, "ending_before");
  let data: StripeObject[];
  let hasMore: boolean;
  if (after) {
    const idx = cursorIndex(sorted, after, "starting_after");
    data = sorted.slice(idx + 1, idx + 1 + limit);
    hasMore = idx + 1 + limit < sorted.length;
  } else if (before) {
    const idx = cursorIndex(sorted, before, "ending_before");
    const start = Math.max(0, idx - limit);
    data = sorted.slice(start, idx);
    hasMore = start > 0;
  } else {
    data = sorted.slice(0, limit);
    hasMore = sorted.length > limit;
  }
  return { object: "list", data: data.map(clone), has_more: hasMore, url };
}

function cursorIndex(sorted: StripeObject[], id: string, param: string): number {
  const idx = sorted.findIndex((o) => o.id === id);
  if (idx < 0) throw resourceMissing("object", id, param);
  return idx;
}

function createdFilter(params: Params): Filter {
  // `created` is either a timestamp (`created=123`) or a range (`created[gte]=123`).
  const raw = params["created"];
  if (typeof raw === "string") {
    const exact = optInt(params, "created");
    return (o) => o.created === exact;
  }
  const range = optObject(params, "created");
  if (!range) return () => true;
  const bound = (k: string) => optInt(range, k);
  const [gt, gte, lt, lte] = [bound("gt"), bound("gte"), bound("lt"), bound("lte")];
  return (o) =>
    (gt === undefined || o.created > gt) && (gte === undefined || o.created >= gte) &&
    (lt === undefined || o.created < lt) && (lte === undefined || o.created <= lte);
}

export function equalsParam(params: Params, key: string, field = key): Filter[] {
  const v = optString(params, key);
  return v === undefined ? [] : [(o) => o[field] === v];
}

interface PersistedState {
  version: 1;
  objects: Record<string, StripeObject[]>;
  idempotency: IdempotentRecord[];
}

export async function loadStore(path: string): Promise<Store> {
  const store = newStore();
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return store;
    throw e;
  }
  const data = JSON.parse(text) as PersistedState;
  for (const name of Object.keys(COLLECTIONS) as CollectionName[]) {
    for (const obj of data.objects?.[name] ?? []) store.objects[name].set(obj.id, obj);
  }
  for (const rec of data.idempotency ?? []) store.idempotency.set(rec.key, rec);
  return store;
}

export async function saveStore(store: Store, path: string): Promise<void> {
  const data: PersistedState = { version: 1, objects: {}, idempotency: [] };
  for (const [name, map] of Object.entries(store.objects)) data.objects[name] = [...map.values()];
  data.idempotency = [...store.idempotency.values()];
  // Write then rename so a crash mid-write never leaves a truncated state file behind.
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(data));
  await Deno.rename(tmp, path);
}
