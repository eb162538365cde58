/**
 * Why a POST to ALERT_WEBHOOK_URL failed, in words a person acts on (README, Dispute workbench:
 * `ALERT_WEBHOOK_URL`): its host, the cause (connection refused, DNS, timeout, TLS, a status
 * other than 2xx) and what to check. Only the scheme, host and port are named: the path, the
 * query and the userinfo of a webhook URL often hold its secret, and are never logged.
 */

/** How long a POST to ALERT_WEBHOOK_URL waits for an answer. */
export const ALERT_TIMEOUT_MS = 10_000;

/** ALERT_WEBHOOK_URL as it may be logged: `https://hooks.example.com/…`, the rest masked. */
export function maskedAlertUrl(url: string): string {
  try {
    const u = new URL(url);
    const rest = u.pathname !== "/" || u.search || u.username || u.password ? "/…" : "";
    return `${u.protocol}//${u.host}${rest}`;
  } catch {
    return "(a URL that does not parse)";
  }
}

/** The messages of `error` and of what it wraps, innermost last. */
function messages(error: unknown): string[] {
  const out: string[] = [];
  for (let c: unknown = error, depth = 0; c !== undefined && depth < 5; depth++) {
    out.push(c instanceof Error ? `${c.name}: ${c.message}` : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return out;
}

function port(url: string): string {
  try {
    const u = new URL(url);
    return u.port || (u.protocol === "https:" ? "443" : "80");
  } catch {
    return "?";
  }
}

/** The cause of a fetch that threw, and what to check; any URL in Deno's words masked. */
export function describeFetchFailure(url: string, error: unknown): string {
  const all = messages(error).join(" <- ");
  const where = maskedAlertUrl(url);
  if (/\b(TimeoutError|AbortError)\b|timed? ?out/i.test(all)) {
    return `no answer within ${ALERT_TIMEOUT_MS / 1000} s (timeout): check that the ` +
      "receiver answers promptly and that no firewall drops the traffic from this server";
  }
  if (
    /dns error|failed to lookup|name or service not known|nodename nor servname|no such host/i
      .test(all)
  ) {
    return "its host name does not resolve (DNS): check the host in ALERT_WEBHOOK_URL and " +
      "this server's DNS";
  }
  if (/connection refused/i.test(all)) {
    return `connection refused (nothing listens on port ${port(url)}): check that the ` +
      "receiver runs and listens there, and the port in ALERT_WEBHOOK_URL";
  }
  if (/certificate|tls|ssl|handshake|corrupt message/i.test(all)) {
    return "the TLS handshake failed: check the receiver's certificate, and http:// against " +
      "https:// in ALERT_WEBHOOK_URL";
  }
  if (/requests to port \d+ are blocked/i.test(all)) {
    return `Deno refuses to fetch port ${port(url)}: give the receiver another port`;
  }
  if (/connection (reset|closed|aborted)|broken pipe|unexpected eof/i.test(all)) {
    return "the connection was dropped before an answer: check the receiver's logs and any " +
      "proxy in between";
  }
  // Deno's words, any URL in them masked as above
  const words = messages(error).at(-1)!.replace(/\bhttps?:\/\/[^\s)]+/gi, where);
  return `the request failed (${words}): check that ALERT_WEBHOOK_URL is right and the ` +
    "receiver reachable from this server";
}

/** What a status other than 2xx from the receiver means, and what to check. */
export function describeStatus(status: number): string {
  const check = status >= 500
    ? "the receiver is failing: check its logs for the request"
    : status === 401 || status === 403
    ? "the receiver refuses it: check what it expects (ALERT_WEBHOOK_SECRET, a token in the URL)"
    : status === 404 || status === 405
    ? "nothing takes POSTs at that path: check the path in ALERT_WEBHOOK_URL"
    : "the receiver refuses it: check its logs for the request";
  return `answered ${status}, not 2xx: ${check}`;
}

/** The error a failed delivery throws (the job table logs it and retries with backoff). */
export class AlertDeliveryError extends Error {
  override name = "AlertDeliveryError";
  constructor(url: string, alertId: string, cause: string) {
    super(
      `ops alert ${alertId} not delivered to ALERT_WEBHOOK_URL (${maskedAlertUrl(url)}): ` +
        `${cause}; it is sent again with backoff`,
    );
  }
}
