import { accountRoutes } from "./account.ts";
import { balanceRoutes } from "./balance.ts";
import { chargeRoutes } from "./charge_routes.ts";
import type { Route } from "./context.ts";
import { customerRoutes } from "./customers.ts";
import { disputeRoutes } from "./disputes.ts";
import { fileRoutes } from "./files.ts";
import { stringList } from "./form.ts";
import { paymentIntentRoutes } from "./payment_intents.ts";
import { paymentMethodRoutes } from "./payment_methods.ts";
import { radarRoutes } from "./radar.ts";
import { refundRoutes } from "./refunds.ts";
import { reviewRoutes } from "./reviews.ts";
import { equalsParam, getOr404, listObjects } from "./store.ts";

const eventRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^\/v1\/events$/,
    handler: (ctx) => {
      const types = stringList(ctx.params, "types");
      return listObjects(ctx.store.objects.events.values(), ctx.params, "/v1/events", [
        ...equalsParam(ctx.params, "type"),
        (e) => types.length === 0 || types.includes(e.type),
      ]);
    },
  },
  {
    method: "GET",
    pattern: /^\/v1\/events\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "events", id),
  },
];

const ROUTES: Route[] = [
  ...customerRoutes,
  ...paymentMethodRoutes,
  ...paymentIntentRoutes,
  ...chargeRoutes,
  ...refundRoutes,
  ...disputeRoutes,
  ...radarRoutes,
  ...reviewRoutes,
  ...balanceRoutes,
  ...fileRoutes,
  ...eventRoutes,
  ...accountRoutes,
];

export function findRoute(method: string, path: string): { route: Route; args: string[] } | null {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (m) return { route, args: m.slice(1).map(decodeURIComponent) };
  }
  return null;
}
