import assert from "node:assert/strict";
import { authorizationExpiry } from "../domain/authorization.ts";
import {
  declineClass,
  judgeRetry,
  type PriorDecline,
  recentCardUses,
  type RetryFacts,
} from "../domain/retry.ts";
import { parseConfig } from "../config.ts";

const NOW = Date.UTC(2026, 10, 26, 9, 0, 0);
const HOUR = 3600_000;
const LIMITS = { maxAttempts: 3, maxPerCardPerDay: 5, waitAfterTryAgainS: 3600 };

function decline(over: Partial<PriorDecline> = {}): PriorDecline {
  return {
    at: NOW - 10 * 60_000,
    fingerprint: "fp_old",
    code: "card_declined",
    decline_code: "insufficient_funds",
    advice_code: "try_again_later",
    ...over,
  };
}

function facts(over: Partial<RetryFacts> = {}): RetryFacts {
  return {
    now: NOW,
    declines: [decline()],
    attempts: 0,
    fingerprint: "fp_new",
    cardUses: [],
    openFraudAlert: false,
    confirmFraudAlert: false,
    note: null,
    limits: LIMITS,
    ...over,
  };
}

function reasonOf(f: RetryFacts): string {
  const v = judgeRetry(f);
  return v.ok ? "ok" : v.reason;
}

Deno.test("judgeRetry() allows another card after a soft decline", () => {
  assert.deepEqual(judgeRetry(facts()), { ok: true });
});

Deno.test("judgeRetry() refuses every card after a fraud decline, naming the decline", () => {
  for (const code of ["stolen_card", "lost_card", "pickup_card", "fraudulent", "restricted_card"]) {
    const v = judgeRetry(facts({ declines: [decline({ decline_code: code })] }));
    assert.equal(v.ok, false);
    if (v.ok) continue;
    assert.equal(v.reason, "fraud_decline");
    assert.match(v.detail, new RegExp(code));
  }
  // Payment-wide: refused even before the card is known (no call to Stripe needed).
  const early = facts({ declines: [decline({ decline_code: "stolen_card" })] });
  delete early.fingerprint;
  assert.equal(reasonOf(early), "fraud_decline");
});

Deno.test("judgeRetry() refuses the same card after do_not_try_again, allows a different fingerprint", () => {
  const declines = [decline({ decline_code: "generic_decline", advice_code: "do_not_try_again" })];
  assert.equal(reasonOf(facts({ declines, fingerprint: "fp_old" })), "do_not_try_again");
  assert.equal(reasonOf(facts({ declines, fingerprint: "fp_new" })), "ok");
});

Deno.test("judgeRetry() requires a different fingerprint after a hard decline", () => {
  const declines = [decline({ decline_code: "expired_card", advice_code: null })];
  assert.equal(declineClass(declines[0]), "hard");
  assert.equal(reasonOf(facts({ declines, fingerprint: "fp_old" })), "hard_decline_same_card");
  assert.equal(reasonOf(facts({ declines, fingerprint: "fp_other" })), "ok");
});

Deno.test("judgeRetry() refuses the same card with unchanged details after confirm_card_data", () => {
  const cvc = decline({
    fingerprint: "fp_card",
    decline_code: "incorrect_cvc",
    advice_code: "confirm_card_data",
  });
  // a saved payment method from before the decline, or a test id: the same details
  for (const cardEnteredAt of [cvc.at - HOUR, cvc.at, null]) {
    const v = judgeRetry(facts({ declines: [cvc], fingerprint: "fp_card", cardEnteredAt }));
    assert.equal(v.ok, false, String(cardEnteredAt));
    if (v.ok) continue;
    assert.equal(v.reason, "confirm_card_data");
    assert.match(v.detail, /incorrect_cvc/);
    assert.match(v.detail, /enter the card's details again|another card/);
    assert.equal(v.retry_after, null, "waiting does not help");
  }
  // the customer entered the card's details again after the decline: a new payment method
  const fresh = facts({ declines: [cvc], fingerprint: "fp_card", cardEnteredAt: cvc.at + 60_000 });
  assert.deepEqual(judgeRetry(fresh), { ok: true });
  // another card
  assert.deepEqual(judgeRetry(facts({ declines: [cvc], fingerprint: "fp_other" })), { ok: true });
});

Deno.test("judgeRetry() makes the same card wait RETRY_WAIT_AFTER_TRY_AGAIN_S after try_again_later", () => {
  const at = NOW - 10 * 60_000;
  const declines = [decline({ at })];
  const v = judgeRetry(facts({ declines, fingerprint: "fp_old" }));
  assert.equal(v.ok, false);
  if (!v.ok) {
    assert.equal(v.reason, "try_again_later");
    assert.equal(v.retry_after, new Date(at + HOUR).toISOString());
  }
  assert.equal(reasonOf(facts({ declines, fingerprint: "fp_old", now: at + HOUR })), "ok");
  assert.equal(
    reasonOf(facts({ declines, fingerprint: "fp_old", now: at + HOUR - 1 })),
    "try_again_later",
  );
  // Another card need not wait.
  assert.equal(reasonOf(facts({ declines, fingerprint: "fp_new" })), "ok");
});

Deno.test("judgeRetry() holds a card Stripe rate-limited for 24 h", () => {
  const declines = [
    decline({ code: "card_decline_rate_limit_exceeded", decline_code: null, advice_code: null }),
  ];
  assert.equal(reasonOf(facts({ declines, fingerprint: "fp_old" })), "card_rate_limited");
  assert.equal(reasonOf(facts({ declines, fingerprint: "fp_old", now: NOW + 24 * HOUR })), "ok");
});

Deno.test("judgeRetry() holds a card Stripe locked on another payment for 24 h after that decline", () => {
  const lockedAt = NOW - 2 * HOUR;
  // no decline of this card on this payment: the lock is the card's (cardLockedAt)
  const v = judgeRetry(facts({ declines: [], fingerprint: "fp_new", cardLockedAt: lockedAt }));
  assert.equal(v.ok, false);
  if (!v.ok) {
    assert.equal(v.reason, "card_rate_limited");
    assert.equal(v.retry_after, new Date(lockedAt + 24 * HOUR).toISOString());
  }
  const over = facts({ declines: [], cardLockedAt: lockedAt, now: lockedAt + 24 * HOUR });
  assert.equal(reasonOf(over), "ok");
  // this payment's own lock decline, later than the card's: the later one holds
  const own = decline({
    fingerprint: "fp_new",
    at: NOW - HOUR,
    code: "card_decline_rate_limit_exceeded",
    decline_code: null,
    advice_code: null,
  });
  const later = judgeRetry(facts({ declines: [own], cardLockedAt: lockedAt }));
  assert.equal(later.ok ? null : later.retry_after, new Date(NOW + 23 * HOUR).toISOString());
  // the payment-wide pass (card not known yet) does not judge it
  assert.equal(
    reasonOf(facts({ declines: [], fingerprint: undefined, cardLockedAt: lockedAt })),
    "ok",
  );
});

Deno.test("judgeRetry() caps retries per payment at RETRY_MAX_ATTEMPTS", () => {
  assert.equal(reasonOf(facts({ attempts: 2 })), "ok");
  assert.equal(reasonOf(facts({ attempts: 3 })), "max_attempts");
  assert.equal(
    reasonOf(facts({ attempts: 1, limits: { ...LIMITS, maxAttempts: 1 } })),
    "max_attempts",
  );
});

Deno.test("judgeRetry() caps one card at RETRY_MAX_PER_CARD_PER_DAY over a rolling 24 h", () => {
  const uses = [1, 2, 3, 4, 5].map((h) => NOW - h * HOUR);
  const v = judgeRetry(facts({ cardUses: uses }));
  assert.equal(v.ok, false);
  if (!v.ok) {
    assert.equal(v.reason, "card_daily_cap");
    // the oldest of the five leaves the window first
    assert.equal(v.retry_after, new Date(NOW - 5 * HOUR + 24 * HOUR).toISOString());
  }
  // a use older than 24 h no longer counts
  const old = [NOW - 25 * HOUR, ...uses.slice(0, 4)];
  assert.equal(reasonOf(facts({ cardUses: old })), "ok");
});

Deno.test("judgeRetry() needs confirm_fraud_alert and a note when the customer has an open alert", () => {
  assert.equal(reasonOf(facts({ openFraudAlert: true })), "fraud_alert_open");
  assert.equal(
    reasonOf(facts({ openFraudAlert: true, confirmFraudAlert: true })),
    "fraud_alert_open",
  );
  assert.equal(
    reasonOf(facts({ openFraudAlert: true, confirmFraudAlert: true, note: "  " })),
    "fraud_alert_open",
  );
  assert.equal(
    reasonOf(facts({ openFraudAlert: true, confirmFraudAlert: true, note: "called the customer" })),
    "ok",
  );
});

Deno.test("judgeRetry(): a fraud decline outranks every other rule", () => {
  const v = judgeRetry(facts({
    declines: [decline({ decline_code: "fraudulent" })],
    attempts: 9,
    openFraudAlert: true,
  }));
  assert.equal(v.ok ? "ok" : v.reason, "fraud_decline");
});

Deno.test("recentCardUses() keeps only the rolling day's uses, newest, bounded", () => {
  const uses = [NOW - 30 * HOUR, NOW - 3 * HOUR, NOW - HOUR, NOW - 2 * HOUR];
  assert.deepEqual(recentCardUses(uses, NOW, 2), [NOW - 2 * HOUR, NOW - HOUR]);
});

Deno.test("authorizationExpiry(): a card authorization lapses after 7 days, alert within the last 24 h", () => {
  const created = NOW - 5 * 24 * HOUR;
  assert.equal(authorizationExpiry(created, NOW).due_for_alert, false);
  const e = authorizationExpiry(created, NOW + 24 * HOUR);
  assert.equal(e.expires_at, created + 7 * 24 * HOUR);
  assert.equal(e.due_for_alert, true);
});

Deno.test("parseConfig() reads the retry limits, with the contract's defaults", () => {
  assert.deepEqual(parseConfig({}).retry, {
    maxAttempts: 3,
    maxPerCardPerDay: 5,
    waitAfterTryAgainS: 3600,
  });
  const c = parseConfig({
    RETRY_MAX_ATTEMPTS: "5",
    RETRY_MAX_PER_CARD_PER_DAY: "2",
    RETRY_WAIT_AFTER_TRY_AGAIN_S: "60",
  });
  assert.deepEqual(c.retry, { maxAttempts: 5, maxPerCardPerDay: 2, waitAfterTryAgainS: 60 });
  assert.throws(
    () => parseConfig({ RETRY_MAX_ATTEMPTS: "0" }),
    /RETRY_MAX_ATTEMPTS must be at least 1/,
  );
});
