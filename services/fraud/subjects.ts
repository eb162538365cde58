/**
 * The subjects a snooze or an analysis may name: a customer Stripe's webhooks
 * have reported, or a card subject (`card:<fingerprint>`) the service has
 * seen (README "Fraud detection": workflow); else 404 naming the body field.
 */
import { AppError, validationFailed } from "../../core/errors.ts";
import { cardSeen } from "../../kv/fraud.ts";
import { getAggregates, getCustomer } from "../../kv/customers.ts";

/**
 * A customer Stripe's webhooks have reported, or a card subject
 * (`card:<fingerprint>`, a card alert's) the service has seen; else 404 (or
 * 422 for a card subject without a fingerprint) naming the body field `path`
 * (a snooze's `body.customer`, an analysis's `body.customer_id`).
 */
export async function mustKnowSubject(
  kv: Deno.Kv,
  subject: string,
  path = "body.customer",
): Promise<void> {
  if (subject.startsWith("card:")) {
    const fingerprint = subject.slice(5);
    if (!fingerprint) {
      throw validationFailed([{
        path,
        message: "a card subject is card:<fingerprint>, as a card alert's subject shows it",
      }]);
    }
    if (await cardSeen(kv, fingerprint)) return;
    throw new AppError("not_found", `no card ${fingerprint}`, {
      errors: [{
        path,
        message: `no card ${fingerprint} is known here (no payment without a customer, no ` +
          "recent decline, no open alert); give a card alert's subject as GET /api/admin/payments/fraud/alerts " +
          "shows it, or the cus_… id of a customer",
      }],
    });
  }
  const [record, aggregates] = await Promise.all([
    getCustomer(kv, subject),
    getAggregates(kv, subject),
  ]);
  if (record.value || aggregates.value) return;
  throw unknownCustomer(subject, path);
}

/** 404: no customer `subject` here, on the body field `path`, with what to send instead. */
export function unknownCustomer(subject: string, path: string): AppError {
  return new AppError("not_found", `no customer ${subject}`, {
    errors: [{
      path,
      message: `no customer ${subject} is known here; give the cus_… id of a customer ` +
        "Stripe's webhooks have reported, or a card alert's subject (card:<fingerprint>) as " +
        "GET /api/admin/payments/fraud/alerts shows it",
    }],
  });
}
