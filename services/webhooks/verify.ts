/**
 * Stripe-Signature verification on the raw body, against every configured
 * endpoint secret (during a rotation both the old and the new one verify).
 * The age check uses the injected clock, so tests move time instead of sleeping.
 *
 * The SDK's `constructEvent` checks the header, the tolerance and the
 * signatures, with the HMAC-SHA256 computed synchronously by `node:crypto`
 * (`NodeHmac` below): about 8 µs a delivery, against about 45 µs for the
 * SDK's SubtleCrypto provider, which also hops off the isolate's thread.
 */
import Stripe from "stripe";
import { createHash, createHmac } from "node:crypto";
import type { Clock } from "../../core/clock.ts";
import { AppError } from "../../core/errors.ts";
import { isStripeTime } from "../../domain/stripe_time.ts";

/** Stripe's own default; a captured delivery replayed later than this is refused. */
export const SIGNATURE_TOLERANCE_S = 300;

export interface SignatureVerifier {
  /** The verified event, or `signature_invalid` / `validation_failed` / `unavailable`. */
  verify(rawBody: string, header: string | undefined): Stripe.Event;
}

export function createSignatureVerifier(
  secrets: readonly string[] | undefined,
  clock: Clock,
): SignatureVerifier {
  const provider = new NodeHmac();
  function verify(rawBody: string, header: string | undefined): Stripe.Event {
    if (!secrets?.length) {
      // 503, not 400: Stripe keeps retrying for days, so nothing is lost while the operator
      // sets STRIPE_WEBHOOK_SECRETS.
      throw new AppError(
        "unavailable",
        "no webhook signing secret is configured; set STRIPE_WEBHOOK_SECRETS",
      );
    }
    if (!header) {
      throw new AppError("signature_invalid", "the Stripe-Signature header is missing");
    }
    let lastReason = "no signature matches";
    for (const secret of secrets) {
      try {
        const event = Stripe.webhooks.constructEvent(
          rawBody,
          header,
          secret,
          SIGNATURE_TOLERANCE_S,
          provider,
          clock.now(),
        );
        refuseFutureTimestamp(header, clock.now());
        return checkShape(event);
      } catch (e) {
        if (e instanceof Stripe.errors.StripeSignatureVerificationError) {
          lastReason = /tolerance/i.test(e.message)
            ? `the signature timestamp is more than ${SIGNATURE_TOLERANCE_S} s old`
            : /timestamp|signatures found with expected scheme/i.test(e.message)
            ? "the Stripe-Signature header is malformed"
            : "no signature matches any configured webhook secret";
          // A stale timestamp fails for every secret alike; a mismatch may verify with the next.
          if (/tolerance/i.test(e.message)) break;
          continue;
        }
        if (e instanceof AppError) throw e;
        // The signature verified, so the body is Stripe's, but it does not parse.
        throw new AppError("validation_failed", "the signed body is not a JSON event", {
          errors: [{ path: "body", message: "not valid JSON" }],
        });
      }
    }
    throw new AppError("signature_invalid", `webhook refused: ${lastReason}`);
  }
  return { verify };
}

/**
 * The SDK refuses only a timestamp too old; one far ahead is no delivery from
 * Stripe's now either (README: a `t` more than five minutes off is refused).
 * Checked once the signature verified, so a forged header learns nothing.
 */
function refuseFutureTimestamp(header: string, nowMs: number): void {
  const t = /(?:^|,)\s*t=(\d+)\s*(?:,|$)/.exec(header)?.[1];
  if (t === undefined) return; // the SDK refuses a header without one
  const ahead = Number(t) - Math.floor(nowMs / 1000);
  if (ahead <= SIGNATURE_TOLERANCE_S) return;
  throw new AppError(
    "signature_invalid",
    `webhook refused: the Stripe-Signature timestamp (t=${t}) is ${ahead} s ahead of this ` +
      `server's clock (more than ${SIGNATURE_TOLERANCE_S} s); check the sender's clock (Stripe ` +
      "signs with its own, so also this server's clock, e.g. its NTP sync)",
  );
}

/** HMAC-SHA256 in hex by `node:crypto`, on the isolate's thread, without a promise. */
class NodeHmac extends Stripe.CryptoProvider {
  override computeHMACSignature(payload: string, secret: string): string {
    return createHmac("sha256", secret).update(payload, "utf8").digest("hex");
  }

  override computeHMACSignatureAsync(payload: string, secret: string): Promise<string> {
    return Promise.resolve(this.computeHMACSignature(payload, secret));
  }

  override computeSHA256Async(data: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(createHash("sha256").update(data).digest()));
  }
}

function checkShape(event: Stripe.Event): Stripe.Event {
  const parsed: unknown = event;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    const got = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : typeof parsed;
    throw new AppError("validation_failed", "the signed body is not a Stripe event", {
      errors: [{ path: "body", message: `a JSON object (a Stripe event), not ${got}` }],
    });
  }
  const e = parsed as Record<string, unknown>;
  const data = e.data as Record<string, unknown> | undefined;
  const problems: { path: string; message: string }[] = [];
  if (typeof e.id !== "string" || !/^evt_[A-Za-z0-9_]{1,250}$/.test(e.id)) {
    problems.push({ path: "body.id", message: "an event id (evt_…)" });
  }
  if (typeof e.type !== "string" || e.type.length === 0 || e.type.length > 200) {
    problems.push({ path: "body.type", message: "an event type" });
  }
  if (!isStripeTime(e.created)) {
    problems.push({ path: "body.created", message: "whole seconds since the epoch" });
  }
  if (!data || typeof data.object !== "object" || data.object === null) {
    problems.push({ path: "body.data.object", message: "the event's object" });
  }
  if (problems.length) {
    throw new AppError("validation_failed", "the signed body is not a Stripe event", {
      errors: problems,
    });
  }
  return event;
}
