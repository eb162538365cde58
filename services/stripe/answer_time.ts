/**
 * When Stripe answered, by Stripe's own clock: the `Date` header of its
 * response (whole seconds), on an object the SDK returned (`lastResponse`) or
 * on the error it threw (directly, or as the `cause` of the gateway's
 * problem). The service's clock may run ahead of or behind Stripe's; a
 * snapshot read from the API is placed by this time (README "Transactions and
 * money edges": snapshots are ordered by Stripe's time).
 */
function dateHeader(headers: unknown): string | null {
  if (!headers || typeof headers !== "object") return null;
  const h = headers as Record<string, unknown> & { get?: (name: string) => string | null };
  const raw = typeof h.get === "function" ? h.get("date") : h["date"] ?? h["Date"];
  return typeof raw === "string" ? raw : null;
}

/** Stripe's time of the answer that brought `answer` (seconds), or null when it did not say. */
export function stripeAnsweredAt(answer: unknown): number | null {
  if (!answer || typeof answer !== "object") return null;
  const a = answer as {
    lastResponse?: { headers?: unknown };
    headers?: unknown;
    cause?: unknown;
  };
  const raw = dateHeader(a.lastResponse?.headers) ?? dateHeader(a.headers);
  if (raw === null) return a.cause ? stripeAnsweredAt(a.cause) : null;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/**
 * The id Stripe gave the request that brought `answer` (`Request-Id`): an
 * object it answered, or a refusal the gateway turned into this service's
 * error (its `stripe.request_id`); null when unknown.
 */
export function stripeRequestId(answer: unknown): string | null {
  const a = answer as {
    lastResponse?: { requestId?: string };
    extra?: { stripe?: { request_id?: string | null } };
  } | null;
  return a?.lastResponse?.requestId ?? a?.extra?.stripe?.request_id ?? null;
}
