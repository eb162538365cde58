/**
 * A text copied from Stripe is kept up to 1,000 characters, counted as
 * Unicode code points (an emoji is one), and the marker's N counts them the
 * same way; a cut never splits a surrogate pair, nor an emoji sequence's
 * joiner or variation selector from what it joins (README, "Stripe webhooks").
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type TestApp } from "./helpers/app.ts";
import { postEvent, withIntakeApp } from "./helpers/webhooks.ts";
import { stripeEvent, T0, testId } from "./helpers/stripe_objects.ts";
import { boundStripeText } from "../domain/stripe_text.ts";

/** the customer's name as kept after a customer.created carrying `name` */
async function keptName(t: TestApp, name: string): Promise<string> {
  const id = testId("cus");
  const event = stripeEvent("customer.created", {
    id,
    object: "customer",
    created: T0,
    email: "cp@example.com",
    name,
    phone: null,
    description: null,
    metadata: {},
    livemode: false,
  } as { id: string }, T0);
  const res = await postEvent(t.app, event as Stripe.Event, { clock: t.clock });
  assert.equal(res.status, 200, await res.clone().text());
  await res.body?.cancel();
  await t.services.webhooks.drain();
  const stored = await t.services.webhooks.get(event.id);
  assert.equal(stored.status, "processed", stored.last_error ?? "");
  return (await t.services.customers.get(id, { limit: 1 })).customer.name ?? "";
}

const marker = (n: number) => `… [cut by payops: ${n} characters in all; `;

Deno.test("600 emoji are 600 characters: kept whole", async () => {
  await withIntakeApp(async (t) => {
    const name = "😀".repeat(600);
    assert.equal(await keptName(t, name), name);
  });
});

Deno.test("1,200 emoji are cut at 1,000 and the marker says 1200 characters", async () => {
  await withIntakeApp(async (t) => {
    const kept = await keptName(t, "😀".repeat(1200));
    assert.ok(kept.startsWith("😀".repeat(1000) + marker(1200)), kept.slice(990 * 2, 2100));
  });
});

Deno.test("a cut never splits a surrogate pair, and N counts code points", () => {
  // 999 ASCII, then emoji: the 1,000th character is an emoji, kept whole
  const kept = boundStripeText("a".repeat(999) + "😀".repeat(10));
  assert.ok(kept.startsWith("a".repeat(999) + "😀" + marker(1009)), kept.slice(990, 1100));
  assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(kept), "no lone high surrogate");
  assert.equal(boundStripeText("x".repeat(1000)), "x".repeat(1000));
  assert.equal(boundStripeText("😀".repeat(1000)), "😀".repeat(1000));
});

Deno.test("a cut falls before an emoji sequence's joiner or variation selector", () => {
  const family = "👩\u200d👩\u200d👧"; // five code points
  // the 1,000th character is the first 👩, followed by its joiner: cut before the sequence
  const kept = boundStripeText("a".repeat(999) + family);
  assert.ok(kept.startsWith("a".repeat(999) + marker(1004)), kept.slice(990, 1100));
  // the 1,000th character is a joiner: cut before the sequence too
  const atJoiner = boundStripeText("a".repeat(998) + family);
  assert.ok(atJoiner.startsWith("a".repeat(998) + marker(1003)), atJoiner.slice(990, 1100));
  // a heart with its variation selector past the cut: the heart goes too
  const heart = boundStripeText("a".repeat(999) + "❤\ufe0f" + "b");
  assert.ok(heart.startsWith("a".repeat(999) + marker(1002)), heart.slice(990, 1100));
});
