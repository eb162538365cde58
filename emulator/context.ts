import type { EventBus, RequestInfo } from "./events.ts";
import type { Params } from "./form.ts";
import type { Store, StripeObject } from "./store.ts";

/** A file part of a multipart/form-data request. */
export interface Upload {
  name: string;
  type: string;
  bytes: Uint8Array;
}

/** What a route handler gets: state, the event bus, the clock and the parsed request. */
export interface Ctx {
  store: Store;
  bus: EventBus;
  now: () => number;
  params: Params;
  /** File parts of a multipart/form-data request (`POST /v1/files`). */
  uploads: Map<string, Upload>;
  request: RequestInfo;
  disputeDelayMs: number;
  /** null: pending refunds wait for a test control (emulator/mod.ts) */
  refundFailureDelayMs: number | null;
}

/** Handlers are synchronous on purpose: one request's changes never interleave with another's. */
export type Handler = (ctx: Ctx, pathArgs: string[]) => StripeObject;

export interface Route {
  method: "GET" | "POST" | "DELETE";
  pattern: RegExp;
  handler: Handler;
}

export function nowSec(ctx: Pick<Ctx, "now">): number {
  return Math.floor(ctx.now() / 1000);
}

/** The fields that changed, with their old values: Stripe's `previous_attributes`. */
export function previousAttributes(before: StripeObject, after: StripeObject): StripeObject {
  const prev: StripeObject = {};
  for (const [k, v] of Object.entries(before)) {
    if (JSON.stringify(v) !== JSON.stringify(after[k])) prev[k] = v;
  }
  return prev;
}
