/**
 * Account-level reads `deno task doctor` makes: the balance (a cheap read that
 * proves the key works and tells its mode) and the webhook endpoints, of which
 * the emulator has one: where it delivers events (its `WebhookTarget`), with
 * the events and API version the target declares (all events and the pinned
 * SDK's version unless a test says otherwise).
 */
import type { Route } from "./context.ts";
import { API_VERSION } from "./events.ts";

export const accountRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^\/v1\/balance$/,
    handler: () => ({
      object: "balance",
      livemode: false,
      available: [{ amount: 0, currency: "usd", source_types: { card: 0 } }],
      pending: [{ amount: 0, currency: "usd", source_types: { card: 0 } }],
    }),
  },
  {
    method: "GET",
    pattern: /^\/v1\/webhook_endpoints$/,
    handler: (ctx) => {
      const target = ctx.bus.target;
      const data = target
        ? [{
          id: "we_emulator",
          object: "webhook_endpoint",
          api_version: target.api_version ?? API_VERSION,
          application: null,
          created: Math.floor(ctx.now() / 1000),
          description: "the emulator's delivery target",
          enabled_events: target.enabled_events ?? ["*"],
          livemode: false,
          metadata: {},
          status: "enabled",
          url: target.url,
        }]
        : [];
      return { object: "list", data, has_more: false, url: "/v1/webhook_endpoints" };
    },
  },
];
