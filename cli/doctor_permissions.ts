/**
 * A restricted key's permissions, checked against what the service calls at
 * Stripe (README, Deploying: "A restricted key"). Stripe has no call that lists
 * a key's permissions, so each one is probed with a request that cannot change
 * anything: a read of one object, or a write to an object that does not exist.
 * Stripe checks the key's permission before it looks at the request, so a key
 * that lacks the permission gets 403 (`StripePermissionError`), and one that
 * holds it gets the 404 or 400 that the probe is built to meet.
 */
import Stripe from "stripe";
import type { Finding } from "./doctor_checks.ts";

export interface RequiredPermission {
  /** Stripe's name without the `rak_` prefix */
  name: string;
  /** as the Dashboard's restricted key form shows it */
  label: string;
  /** what the service does with it */
  why: string;
  probe: (s: Stripe) => Promise<unknown>;
}

const NONE = "payops_doctor_probe";

/** Every permission the service uses; write includes read at Stripe. */
export const REQUIRED_PERMISSIONS: RequiredPermission[] = [
  {
    name: "charge_read",
    label: "Charges: Read",
    why: "backfill lists charges",
    probe: (s) => s.charges.list({ limit: 1 }),
  },
  {
    name: "customer_read",
    label: "Customers: Read",
    why: "backfill and card retries read customers and their payment methods",
    probe: (s) => s.customers.list({ limit: 1 }),
  },
  {
    name: "payment_intent_write",
    label: "PaymentIntents: Write",
    why: "retries confirm, capture and cancel payments",
    probe: (s) => s.paymentIntents.update(`pi_${NONE}`, {}),
  },
  {
    name: "payment_method_write",
    label: "PaymentMethods: Write",
    why: "retries attach a customer's card",
    probe: (s) => s.paymentMethods.update(`pm_${NONE}`, {}),
  },
  {
    name: "refund_write",
    label: "Refunds: Write",
    why: "refunds are created and reconciled",
    probe: (s) => s.refunds.update(`re_${NONE}`, {}),
  },
  {
    name: "dispute_write",
    label: "Disputes: Write",
    why: "evidence is staged and submitted, disputes accepted",
    probe: (s) => s.disputes.update(`dp_${NONE}`, {}),
  },
  {
    name: "file_write",
    label: "Files: Write",
    why: "dispute evidence files are uploaded",
    // No file in the body: refused as incomplete once the permission is checked.
    probe: (s) => s.rawRequest("POST", "/v1/files", {}),
  },
  {
    name: "radar_early_fraud_warning_read",
    label: "Early Fraud Warnings: Read",
    why: "backfill lists Radar's early fraud warnings",
    probe: (s) => s.radar.earlyFraudWarnings.list({ limit: 1 }),
  },
  {
    name: "review_read",
    label: "Reviews: Read",
    why: "backfill lists Radar's reviews",
    probe: (s) => s.reviews.list({ limit: 1 }),
  },
  {
    name: "webhook_read",
    label: "Webhook Endpoints: Read",
    why: "the doctor checks the endpoint's URL, events and api_version",
    probe: (s) => s.webhookEndpoints.list({ limit: 1 }),
  },
];

/** Probes each permission; the finding names exactly the missing ones and how to grant them. */
export async function checkRestrictedPermissions(
  stripe: Stripe,
  required: RequiredPermission[] = REQUIRED_PERMISSIONS,
): Promise<Finding[]> {
  const missing: RequiredPermission[] = [];
  const unchecked: string[] = [];
  for (const p of required) {
    try {
      await p.probe(stripe);
    } catch (e) {
      if (
        e instanceof Stripe.errors.StripePermissionError ||
        (e as Stripe.errors.StripeError)?.statusCode === 403
      ) {
        missing.push(p);
      } else if (!(e instanceof Stripe.errors.StripeError) || e.statusCode === undefined) {
        unchecked.push(`${p.name} (${e instanceof Error ? e.message : String(e)})`);
      } // any other answer from Stripe: the permission let the request through
    }
  }
  const out: Finding[] = [];
  if (missing.length) {
    out.push({
      check: "restricted key",
      severity: "fail",
      detail: `the restricted key lacks ${missing.length} permission(s) the service uses: ` +
        missing.map((p) => `rak_${p.name} (${p.why})`).join("; "),
      fix: "in the Dashboard (Developers, API keys, the key's Edit) set " +
        missing.map((p) => p.label).join(", ") + "; then run the doctor again",
    });
  }
  if (unchecked.length) {
    out.push({
      check: "restricted key",
      severity: "fail",
      detail: `could not check: ${unchecked.join("; ")}`,
      fix: "check the network path to Stripe and run the doctor again",
    });
  }
  if (out.length === 0) {
    out.push({
      check: "restricted key",
      severity: "ok",
      detail: `holds every permission the service uses (${required.length} checked)`,
    });
  }
  return out;
}
