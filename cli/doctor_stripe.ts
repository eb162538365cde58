/**
 * The doctor's Stripe checks: the key works and is in the mode the store's
 * events came from; a restricted key can read what the service reads; the
 * webhook endpoint points here, sends the events the service handles, in the
 * pinned SDK's API version. Only GETs, one of each.
 */
import Stripe from "stripe";
import type { Config } from "../config.ts";
import { keys } from "../kv/keys.ts";
import type { WebhookEventRecord } from "../domain/webhook_event.ts";
import {
  type Finding,
  HANDLED_EVENT_TYPES,
  SDK_API_VERSION,
  WEBHOOK_PATH,
} from "./doctor_checks.ts";
import { checkRestrictedPermissions } from "./doctor_permissions.ts";

const ok = (check: string, detail: string): Finding => ({ check, severity: "ok", detail });
const fail = (check: string, detail: string, fix: string): Finding => ({
  check,
  severity: "fail",
  detail,
  fix,
});

export function doctorStripeClient(config: Config, fetchFn: typeof fetch, timeoutMs: number) {
  const url = new URL(config.stripe.apiUrl);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return new Stripe(config.stripe.secretKey!, {
    host: url.hostname,
    port: url.port || (protocol === "http" ? 80 : 443),
    protocol,
    httpClient: Stripe.createFetchHttpClient(fetchFn),
    maxNetworkRetries: 0,
    timeout: timeoutMs,
    telemetry: false,
  });
}

function errorText(e: unknown): string {
  if (e instanceof Stripe.errors.StripeError) return `${e.statusCode ?? "no answer"}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * The key check when Stripe did not accept the read: a refused key, or an outage (README
 * "Stripe outages"): Stripe failing (5xx) or rate-limiting the key (429) is no configuration
 * problem, and only no answer at all may be the network path or STRIPE_API_URL.
 */
function unanswered(apiUrl: string, status: number | undefined, e: unknown): Finding {
  const outage = "meanwhile the server keeps running: an action whose outcome at Stripe is " +
    "unknown answers 202 and reconciliation settles it once Stripe answers, one Stripe did not " +
    'do answers 503 with Retry-After (README "Stripe outages")';
  if (status === 401) {
    return fail(
      "stripe key",
      `Stripe refused STRIPE_SECRET_KEY (${errorText(e)})`,
      "copy a current secret or restricted key from the Dashboard (Developers, API keys)",
    );
  }
  if (status === 429) {
    return fail(
      "stripe key",
      `Stripe is rate limiting this key (${errorText(e)})`,
      "run the doctor again in a minute; if it persists, something else spends the key's " +
        "budget: lower STRIPE_RATE_LIMIT_PER_S or give the other user its own key; " + outage,
    );
  }
  if (status !== undefined && status >= 500) {
    return fail(
      "stripe key",
      `Stripe answered ${errorText(e)}: Stripe is having trouble, not this configuration`,
      "nothing to change here; see Stripe's status page and run the doctor again later; " +
        outage,
    );
  }
  return fail(
    "stripe key",
    `cannot reach Stripe at ${apiUrl}: ${errorText(e)}`,
    "check STRIPE_API_URL and the network path to it (or Stripe's status page); " + outage,
  );
}

export async function checkStripe(
  config: Config,
  stripe: Stripe,
  kv: Deno.Kv | null,
): Promise<Finding[]> {
  const key = config.stripe.secretKey!;
  const keyLive = config.stripe.livemode;
  const keyMode = keyLive ? "live" : "test";
  const out: Finding[] = [];
  const restricted = key.startsWith("rk_");
  let balance: Stripe.Balance | null = null;
  try {
    balance = await stripe.balance.retrieve();
  } catch (e) {
    const status = e instanceof Stripe.errors.StripeError ? e.statusCode : undefined;
    // A restricted key without Balance read is still a key Stripe accepts; the service never
    // reads the balance, so that is no problem (its mode is then the key's own).
    if (!(restricted && status === 403)) {
      out.push(unanswered(config.stripe.apiUrl, status, e));
      out.push(...await checkStoreMode(kv, keyLive));
      return out;
    }
  }
  out.push(
    balance === null
      ? ok("stripe key", `a restricted ${keyMode}-mode key Stripe accepts (no Balance read)`)
      : balance.livemode === keyLive
      ? ok("stripe key", `a ${keyMode}-mode key Stripe accepts`)
      : fail(
        "stripe key",
        `the key says ${keyMode} mode but Stripe answered in ${
          balance.livemode ? "live" : "test"
        } mode`,
        "STRIPE_API_URL points at the wrong Stripe (an emulator or proxy?): unset it for Stripe",
      ),
  );
  out.push(...await checkStoreMode(kv, keyLive));
  if (restricted) out.push(...await checkRestrictedPermissions(stripe));
  out.push(...await checkWebhookEndpoint(stripe));
  return out;
}

/** The store's newest event came from the key's mode (a test store under a live key is a mistake). */
async function checkStoreMode(kv: Deno.Kv | null, keyLive: boolean): Promise<Finding[]> {
  if (!kv) return [];
  const newest = await Array.fromAsync(
    kv.list<string>({ prefix: keys.webhookEventsByArrivalPrefix() }, { limit: 1, reverse: true }),
  );
  if (newest.length === 0) return [];
  const ref = newest[0].value;
  const eventId = typeof ref === "string" ? ref : (ref as { id?: string })?.id;
  const record = eventId
    ? (await kv.get<WebhookEventRecord>(keys.webhookEvent(eventId))).value
    : null;
  if (!record) return [];
  if (record.livemode === keyLive) {
    return [ok("key mode", `matches the store's events (${keyLive ? "live" : "test"})`)];
  }
  return [fail(
    "key mode",
    `STRIPE_SECRET_KEY is a ${keyLive ? "live" : "test"}-mode key but this store holds ` +
      `${record.livemode ? "live" : "test"}-mode events (newest: ${record.id})`,
    `use the ${record.livemode ? "live" : "test"}-mode key with this store, ` +
      "or point KV_PATH at the store of the key's mode",
  )];
}

async function checkWebhookEndpoint(stripe: Stripe): Promise<Finding[]> {
  let endpoints: Stripe.WebhookEndpoint[];
  try {
    endpoints = (await stripe.webhookEndpoints.list({ limit: 100 })).data;
  } catch (e) {
    return [fail(
      "webhook endpoint",
      `cannot list webhook endpoints: ${errorText(e)}`,
      "a restricted key needs Read on Webhook Endpoints for this check",
    )];
  }
  const ours = endpoints.filter((e) => new URL(e.url).pathname === WEBHOOK_PATH);
  const register = `register https://<your host>${WEBHOOK_PATH} (Developers, Webhooks) with ` +
    `api_version ${SDK_API_VERSION} and the events in README's deploy section`;
  if (ours.length === 0) {
    return [fail("webhook endpoint", `no endpoint at Stripe ends in ${WEBHOOK_PATH}`, register)];
  }
  const out: Finding[] = [];
  for (const e of ours) {
    const where = `${e.id} (${e.url})`;
    if (e.status !== "enabled") {
      out.push(fail("webhook endpoint", `${where} is ${e.status}`, "enable it at Stripe"));
    }
    const all = e.enabled_events.includes("*");
    const missing = all ? [] : HANDLED_EVENT_TYPES.filter((t) => !e.enabled_events.includes(t));
    out.push(
      missing.length
        ? fail(
          "webhook events",
          `${where} does not send ${missing.length} event type(s) the service handles: ` +
            missing.join(", "),
          "add them to the endpoint's events at Stripe",
        )
        : ok("webhook events", `${where} sends every event type the service handles`),
    );
    out.push(
      e.api_version === SDK_API_VERSION
        ? ok("webhook api_version", `${where} sends ${SDK_API_VERSION}, the SDK's version`)
        : fail(
          "webhook api_version",
          `${where} sends events in API version ${
            e.api_version ?? "(the account's default)"
          }; the pinned SDK speaks ${SDK_API_VERSION}, and events arrive in the endpoint's version`,
          `create an endpoint with api_version ${SDK_API_VERSION} (an endpoint's version cannot ` +
            "change), add its secret to STRIPE_WEBHOOK_SECRETS, then delete the old endpoint",
        ),
    );
  }
  return out;
}
