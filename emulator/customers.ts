import { type Ctx, nowSec, previousAttributes, type Route } from "./context.ts";
import { mergeMetadata, optString } from "./form.ts";
import { newId, randomToken } from "./ids.ts";
import { clone, equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

const FIELDS = ["email", "name", "description", "phone"] as const;

function createCustomer(ctx: Ctx): StripeObject {
  const customer: StripeObject = {
    id: newId("cus"),
    object: "customer",
    address: null,
    balance: 0,
    created: nowSec(ctx),
    currency: null,
    default_source: null,
    delinquent: false,
    description: null,
    email: null,
    invoice_prefix: randomToken(8).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    next_invoice_sequence: 1,
    livemode: false,
    metadata: mergeMetadata({}, ctx.params),
    name: null,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
  };
  for (const f of FIELDS) customer[f] = optString(ctx.params, f) ?? null;
  put(ctx.store, "customers", customer);
  ctx.bus.emit("customer.created", customer, ctx.request);
  return customer;
}

function updateCustomer(ctx: Ctx, [id]: string[]): StripeObject {
  const customer = getOr404(ctx.store, "customers", id);
  const before = clone(customer);
  for (const f of FIELDS) {
    const v = optString(ctx.params, f);
    if (v !== undefined) customer[f] = v === "" ? null : v;
  }
  customer.metadata = mergeMetadata(customer.metadata, ctx.params);
  const prev = previousAttributes(before, customer);
  if (Object.keys(prev).length) ctx.bus.emit("customer.updated", customer, ctx.request, prev);
  return customer;
}

export const customerRoutes: Route[] = [
  { method: "POST", pattern: /^\/v1\/customers$/, handler: createCustomer },
  {
    method: "GET",
    pattern: /^\/v1\/customers$/,
    handler: (ctx) =>
      listObjects(
        ctx.store.objects.customers.values(),
        ctx.params,
        "/v1/customers",
        equalsParam(ctx.params, "email"),
      ),
  },
  {
    method: "GET",
    pattern: /^\/v1\/customers\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "customers", id),
  },
  { method: "POST", pattern: /^\/v1\/customers\/([^/]+)$/, handler: updateCustomer },
];
