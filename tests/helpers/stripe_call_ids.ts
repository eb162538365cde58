/**
 * Stripe's request ids as the gateway logged them (`stripe call` lines, and a
 * refusal's `stripe call failed`; README "Inputs and headers":
 * `stripe_request_id`), to check an audit entry names the request that decided it.
 */

/** The `stripe_request_id` of each logged call labelled `label` (`payment_intents.retrieve`), in order. */
export function loggedStripeRequestIds(logs: string[], label: string): string[] {
  const out: string[] = [];
  for (const line of logs) {
    if (!line.startsWith("{")) continue;
    const l = JSON.parse(line) as { msg?: string; label?: string; stripe_request_id?: string };
    const call = l.msg === "stripe call" || l.msg === "stripe call failed";
    if (call && l.label === label && l.stripe_request_id) {
      out.push(l.stripe_request_id);
    }
  }
  return out;
}

/** The one call labelled `label` logged in `logs` (fails unless there is exactly one). */
export function onlyStripeRequestId(logs: string[], label: string): string {
  const ids = loggedStripeRequestIds(logs, label);
  if (ids.length !== 1) throw new Error(`expected one ${label} call, got ${ids.length}`);
  return ids[0];
}
