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
/** A payment made at the emulator with a dispute test card (`pm`) and its dispute, events delivered. */
export async function emulatorDispute(
  stripe: Stripe,
  emu: { deliveries(): Promise<void> },
  pm = "pm_card_createDispute",
) {
  const pi = await stripe.paymentIntents.create({
    amount: 4200,
    currency: "usd",
    payment_method: pm,
    confirm: true,
  });
  await emu.deliveries();
  const [dispute] = (await stripe.disputes.list({ payment_intent: pi.id })).data;
  return { pi, dispute };
}

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

/** The smallest bytes the service takes for a PNG (its signature, then anything). */
export const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

/**
 * A multipart upload request as bytes (its FormData body type differs between
 * Deno's and Node's typings); `file` may be several files, each its own `file` part.
 */
export async function uploadRequest(
  token: string,
  file: Blob | Blob[],
  name: string,
  field?: string,
) {
  const form = new FormData();
  for (const f of Array.isArray(file) ? file : [file]) form.append("file", f, name);
  if (field) form.append("evidence_field", field);
  const encoded = new Response(form);
  return {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": encoded.headers.get("content-type")!,
    },
    body: new Uint8Array(await encoded.arrayBuffer()),
  };
}

/** Uploads `PNG` to the dispute's evidence as `admin`: the status and the parsed body. */
export async function uploadPng(w: RefundWorld, admin: TestAdmin, disputeId: string) {
  const png = new Blob([PNG], { type: "image/png" });
  const res = await w.t.app.request(
    `${API}/disputes/${disputeId}/files`,
    await uploadRequest(admin.token, png, "receipt.png"),
  );
  return { status: res.status, body: await res.json() };
}
