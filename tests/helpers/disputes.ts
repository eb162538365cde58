/**
 * The dispute world for tests: the refund world (app + emulator + held
 * webhooks on one manual clock) with a disputed payment made by Stripe's
 * `pm_card_createDispute` test method, known to the app through its webhooks.
 */
import type Stripe from "stripe";
import type { RefundWorld } from "./refunds.ts";
import { jsonRequest, otpHeaders, type TestAdmin } from "./identity.ts";
import { disputeJobHandlers } from "../../services/disputes/mod.ts";
import { runDueJobs } from "../../kv/jobs.ts";
import type { DisputeDetail } from "../../services/disputes/mod.ts";

export const API = "/api/admin/payments";

/** A payment disputed at Stripe, delivered to the app; the dispute as the app shows it. */
export async function disputedPayment(
  w: RefundWorld,
  amount = 4200,
  paymentMethod = "pm_card_createDispute",
): Promise<{ pi: Stripe.PaymentIntent; txnId: string; customer: string; dispute: DisputeDetail }> {
  const { pi, txnId, customer } = await w.pay(amount, paymentMethod);
  await w.deliver();
  const [du] = (await w.stripe.disputes.list({ payment_intent: pi.id })).data;
  if (!du) throw new Error("the test card opened no dispute");
  const dispute = await w.t.services.disputes.get(du.id);
  return { pi, txnId, customer, dispute };
}

/** A request to the app as `admin`, with a fresh TOTP code when `twoFactor`. */
export async function call(
  w: RefundWorld,
  admin: TestAdmin,
  method: string,
  path: string,
  body?: unknown,
  twoFactor = false,
) {
  const headers = twoFactor ? otpHeaders(w.t, admin) : { authorization: `Bearer ${admin.token}` };
  const res = await w.t.app.request(`${API}${path}`, jsonRequest(method, headers, body));
  const json = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  return { status: res.status, body: json };
}

/** Runs the dispute job handlers due now. */
export function runDisputeJobs(w: RefundWorld) {
  return runDueJobs(w.t.kv, w.clock, disputeJobHandlers(w.t.services));
}

/** Submits the dispute's evidence as `admin`, with a fresh TOTP code. */
export function submitAs(w: RefundWorld, admin: TestAdmin, disputeId: string) {
  return call(w, admin, "POST", `/disputes/${disputeId}/submit`, undefined, true);
}

/** Answers the dispute with evidence as `admin`, then has Stripe decide it `outcome`; delivered. */
export async function decideDispute(
  w: RefundWorld,
  admin: TestAdmin,
  dispute: DisputeDetail,
  outcome: "won" | "lost",
) {
  await call(w, admin, "PUT", `/disputes/${dispute.id}/evidence`, { customer_name: "A" });
  await submitAs(w, admin, dispute.id);
  w.emu.resolveDispute(dispute.stripe_dispute, outcome);
  await w.deliver();
}
