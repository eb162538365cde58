import { type Ctx, nowSec, type Route } from "./context.ts";
import { newId } from "./ids.ts";
import { equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

const DAY_S = 24 * 3600;
/** Stripe's standard US card pricing: 2.9% + 30¢ per successful charge. */
export function cardFee(amount: number): number {
  return Math.round(amount * 0.029) + 30;
}
/** Stripe's US dispute fee, withdrawn with the disputed amount. */
export const DISPUTE_FEE = 1500;

export interface BalanceInput {
  amount: number;
  currency: string;
  type: string;
  reportingCategory: string;
  source: string;
  description: string | null;
  fee?: number;
  feeDescription?: string;
  /** Charges settle on the payout schedule (2 days in the US); adjustments at once. */
  pending?: boolean;
}

/** A stored BalanceTransaction: what a charge, refund or dispute does to the balance. */
export function balanceTransaction(ctx: Ctx, input: BalanceInput): StripeObject {
  const created = nowSec(ctx);
  const fee = input.fee ?? 0;
  const txn: StripeObject = {
    id: newId("txn"),
    object: "balance_transaction",
    amount: input.amount,
    available_on: input.pending ? created + 2 * DAY_S : created,
    balance_type: "payments",
    created,
    currency: input.currency,
    description: input.description,
    exchange_rate: null,
    fee,
    fee_details: fee === 0 ? [] : [{
      amount: fee,
      application: null,
      currency: input.currency,
      description: input.feeDescription ?? "Stripe processing fees",
      type: "stripe_fee",
    }],
    net: input.amount - fee,
    reporting_category: input.reportingCategory,
    source: input.source,
    status: input.pending ? "pending" : "available",
    type: input.type,
  };
  return put(ctx.store, "balance_transactions", txn);
}

export const balanceRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^\/v1\/balance_transactions$/,
    handler: (ctx) =>
      listObjects(
        ctx.store.objects.balance_transactions.values(),
        ctx.params,
        "/v1/balance_transactions",
        [...equalsParam(ctx.params, "source"), ...equalsParam(ctx.params, "type")],
      ),
  },
  {
    method: "GET",
    pattern: /^\/v1\/balance_transactions\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "balance_transactions", id),
  },
];
