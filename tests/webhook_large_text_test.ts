/**
 * An event under the intake's 512 KiB whose object carries a text far longer
 * than Stripe's (a 500 KiB description) is processed, not retried until dead:
 * the records keep the text cut, marked, and the stored payload keeps it
 * whole (README, "Stripe webhooks").
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { deliverSettled, withIntakeApp } from "./helpers/webhooks.ts";
import {
  GENERIC_DECLINE,
  paymentStory,
  stripeEvent,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";
import { listJobs } from "../kv/jobs.ts";
import { STRIPE_TEXT_MAX } from "../domain/stripe_text.ts";

const HUGE = "d".repeat(500 * 1024);
const CUT = new RegExp(
  `^d{${STRIPE_TEXT_MAX}}… \\[cut by payops: ${HUGE.length} characters in all; `,
);

async function deliver(t: TestApp, event: Stripe.Event) {
  const body = JSON.stringify(event);
  assert.ok(new TextEncoder().encode(body).length < 512 * 1024, "under the intake's limit");
  const stored = await deliverSettled(t, body);
  assert.equal(stored.status, "processed", stored.last_error ?? "");
  assert.equal(stored.attempts, 1);
  assert.deepEqual(stored.payload, JSON.parse(body), "the payload keeps the whole text");
  return stored;
}

Deno.test("a customer event with a 500 KiB description (or name) is processed, the text kept cut and marked", async () => {
  await withIntakeApp(async (t) => {
    const id = testId("cus");
    const customer = (fields: Record<string, unknown>, at: number, type = "customer.created") =>
      stripeEvent(type, {
        id,
        object: "customer",
        created: T0,
        email: "big@example.com",
        name: "Big",
        phone: null,
        metadata: {},
        livemode: false,
        ...fields,
      } as { id: string }, at);
    await deliver(t, customer({ description: HUGE }, T0));
    const admin = await createAdmin(t, "admin");
    const res = await t.app.request(`/api/admin/payments/customers/${id}`, {
      headers: authHeaders(admin),
    });
    const shown = await res.json();
    assert.equal(res.status, 200, JSON.stringify(shown).slice(0, 500));
    assert.match(shown.customer.description, CUT);
    assert.equal(shown.customer.email, "b***@example.com");
    // an update of the same second naming the huge text as what it was before (a tied snapshot)
    const update = customer({ name: "n".repeat(300 * 1024), description: "short" }, T0);
    const tied = stripeEvent("customer.updated", update.data.object as { id: string }, T0, {
      previous: { description: "p".repeat(100 * 1024) },
    });
    await deliver(t, tied);
    const after = await t.services.customers.get(id, { limit: 1 });
    assert.equal(after.customer.description, "short");
    assert.match(
      after.customer.name ?? "",
      /^n{1000}… \[cut by payops: 307200 characters in all; /,
    );
    assert.deepEqual(await listJobs(t.kv), [], "nothing left to retry");
  });
});

Deno.test("a payment whose description and decline message are 250 KiB each is processed", async () => {
  await withIntakeApp(async (t) => {
    const story = paymentStory({ customer: "cus_bigText", amount: 1200 });
    const [chargeFailed, piFailed] = story.failed(T0 + 5, GENERIC_DECLINE);
    const half = "m".repeat(250 * 1024);
    (chargeFailed.data.object as unknown as Record<string, unknown>).failure_message = half;
    (chargeFailed.data.object as unknown as Record<string, unknown>).description = half;
    (piFailed.data.object as unknown as Record<string, unknown>).description = half;
    const error = (piFailed.data.object as unknown as { last_payment_error: { message: string } })
      .last_payment_error;
    error.message = half;
    await deliver(t, story.created(T0));
    await deliver(t, chargeFailed);
    await deliver(t, piFailed);
    const txn = await t.services.transactions.get(story.pi);
    assert.match(txn.description ?? "", /^m{1000}… \[cut by payops: 256000 characters in all; /);
    assert.equal(txn.status, "failed");
  });
});
