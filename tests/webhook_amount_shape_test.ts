/**
 * Stripe's amounts are whole numbers of the currency's smallest unit, never
 * negative. An event carrying another (a fraction, a negative, a number past
 * what a JavaScript number holds exactly) fails naming the field, with
 * nothing applied (README, "Stripe webhooks": an event whose object lacks a
 * field the service needs fails naming that field).
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { withTestApp } from "./helpers/app.ts";
import { makeEvent, postEvent, WEBHOOK_ENV } from "./helpers/webhooks.ts";
import {
  chargeObject,
  disputeObject,
  paymentIntentObject,
  refundObject,
  T0,
  testId,
} from "./helpers/stripe_objects.ts";
import { allLedgerEntries } from "../kv/customers.ts";

/** As they come on the wire: JSON number literals, put in the body as written. */
const BAD = ["12.5", "-500", "9007199254740993", "1e20"];
/** a number no builder makes, replaced by the bad literal in the body */
const MARK = 731_000_137;

interface Case {
  field: string;
  /** a signed amount (a withdrawal is negative): only -500 is well formed there */
  signed?: true;
  event: (cus: string) => Stripe.Event;
}

function set(o: object, path: string, value: unknown): Record<string, unknown> & { id: string } {
  const parts = path.split(".");
  let at = o as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
  at[parts[parts.length - 1]] = value;
  return o as Record<string, unknown> & { id: string };
}

const paid = { status: "succeeded" as const, created: T0 };
const CASES: Case[] = [
  ...["amount", "amount_received", "amount_capturable"].map((field) => ({
    field,
    event: (cus: string) =>
      makeEvent(
        "payment_intent.succeeded",
        set(paymentIntentObject({ ...paid, customer: cus, amount: 4000 }), field, MARK),
      ),
  })),
  { field: "amount", event: (cus) => piCreated(cus) },
  ...["amount", "amount_captured", "amount_refunded"].map((field) => ({
    field,
    event: (cus: string) =>
      makeEvent(
        "charge.succeeded",
        set(chargeObject({ customer: cus, amount: 4000, payment_intent: null }), field, MARK),
      ),
  })),
  {
    field: "amount",
    event: (cus) =>
      makeEvent(
        "refund.created",
        set(refundObject({ charge: testId("ch"), customer: cus, amount: 1000 }), "amount", MARK),
      ),
  },
  {
    field: "amount",
    event: () =>
      makeEvent(
        "charge.dispute.created",
        set(disputeObject({ charge: testId("ch"), amount: 1000 }), "amount", MARK),
      ),
  },
  {
    field: "balance_transactions.0.amount",
    signed: true,
    event: () =>
      makeEvent(
        "charge.dispute.funds_withdrawn",
        set(
          disputeObject({ charge: testId("ch"), amount: 1000, withdrawn: true }),
          "balance_transactions.0.amount",
          MARK,
        ),
      ),
  },
];

function piCreated(cus: string): Stripe.Event {
  return makeEvent(
    "payment_intent.created",
    set(paymentIntentObject({ customer: cus, created: T0 }), "amount", MARK),
  );
}

for (const bad of BAD) {
  Deno.test(`an event with amount ${bad} fails naming the field, nothing applied`, async () => {
    await withTestApp(async (t) => {
      for (const c of CASES.filter((c) => !(c.signed && bad === "-500"))) {
        const cus = testId("cus");
        const event = c.event(cus);
        const body = JSON.stringify(event).replace(String(MARK), bad);
        assert.ok(body.includes(bad));
        const res = await postEvent(t.app, body, { clock: t.clock });
        assert.equal(res.status, 200, await res.text());
        await t.services.webhooks.drain();
        const record = await t.services.webhooks.get(event.id);
        const what = `${event.type} ${c.field}=${bad}`;
        assert.equal(record.status, "failed", what);
        assert.ok(
          (record.last_error ?? "").startsWith(`data.object.${c.field}: `),
          `${what}: ${record.last_error}`,
        );
        assert.deepEqual((await t.services.transactions.list({ limit: 5 })).data, [], what);
        assert.deepEqual(await allLedgerEntries(t.kv, cus), [], what);
        assert.equal(await t.services.customers.aggregates(cus), null, what);
      }
    }, { env: WEBHOOK_ENV });
  });
}

Deno.test("the failure says what is wrong with the amount, in words", async () => {
  await withTestApp(async (t) => {
    const words: Record<string, RegExp> = {
      "12.5": /^data\.object\.amount: 12\.5 is not a whole number of the currency's smallest unit/,
      "-500": /^data\.object\.amount: -500 is negative/,
      "9007199254740993":
        /^data\.object\.amount: 9007199254740992 is too large to be counted exactly/,
      "1e20": /^data\.object\.amount: 100000000000000000000 is too large to be counted exactly/,
    };
    // an amount Stripe may leave out, sent as text
    const text = makeEvent(
      "payment_intent.succeeded",
      set(paymentIntentObject({ ...paid, customer: testId("cus") }), "amount_received", "4000"),
    );
    (await postEvent(t.app, text, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    assert.match(
      (await t.services.webhooks.get(text.id)).last_error ?? "",
      /^data\.object\.amount_received: "4000" is a string, not a number/,
    );
    for (const [bad, want] of Object.entries(words)) {
      const event = piCreated(testId("cus"));
      const body = JSON.stringify(event).replace(String(MARK), bad);
      (await postEvent(t.app, body, { clock: t.clock })).body?.cancel();
      await t.services.webhooks.drain();
      assert.match((await t.services.webhooks.get(event.id)).last_error ?? "", want);
    }
  }, { env: WEBHOOK_ENV });
});

Deno.test("a well-formed amount still applies (the check refuses only what Stripe never sends)", async () => {
  await withTestApp(async (t) => {
    const event = makeEvent(
      "payment_intent.created",
      set(paymentIntentObject({ customer: testId("cus") }), "amount", 99_999_999),
    );
    (await postEvent(t.app, event, { clock: t.clock })).body?.cancel();
    await t.services.webhooks.drain();
    assert.equal((await t.services.webhooks.get(event.id)).status, "processed");
    const [txn] = (await t.services.transactions.list({ limit: 5 })).data;
    assert.equal(txn.amount, 99_999_999);
  }, { env: WEBHOOK_ENV });
});
