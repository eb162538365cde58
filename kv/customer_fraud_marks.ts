/**
 * What the fraud service's indexes say of a customer, as a retry is judged
 * (README, "Retry policy": an open fraud alert, or one resolved as fraud that
 * still marks the customer), and of a card (an open alert on `card:<fingerprint>`).
 */
import { keys } from "./keys.ts";

/** An alert resolved as fraud that still marks the customer (its id), or null. */
export async function confirmedFraudAlert(
  kv: Deno.Kv,
  customer: string,
  now: number,
): Promise<string | null> {
  const iter = kv.list<{ until: number }>({ prefix: keys.fraudConfirmedCustomerPrefix(customer) });
  for await (const e of iter) if (e.value.until > now) return String(e.key[2]);
  return null;
}

/** Whether the fraud service's index lists an open alert for the customer. */
export async function hasOpenFraudAlert(kv: Deno.Kv, customer: string): Promise<boolean> {
  return (await openFraudAlertOf(kv, customer)) !== null;
}

/** An open fraud alert naming the customer (its id), null when none. */
export async function openFraudAlertOf(kv: Deno.Kv, customer: string): Promise<string | null> {
  for await (
    const row of kv.list<string>({ prefix: keys.fraudAlertsByCustomerPrefix(customer) }, {
      limit: 1,
    })
  ) {
    return row.value;
  }
  return null;
}

/** An open fraud alert on the card (`card:<fingerprint>`, any rule; its id), null when none. */
export async function openCardFraudAlertOf(
  kv: Deno.Kv,
  fingerprint: string,
): Promise<string | null> {
  for await (
    const row of kv.list<string>({
      prefix: keys.fraudOpenAlertsOfSubjectPrefix(`card:${fingerprint}`),
    }, { limit: 1 })
  ) {
    return row.value;
  }
  return null;
}
