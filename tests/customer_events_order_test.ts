/**
 * A customer's events in every order end in the same record: Stripe's last
 * state, two updates of one second placed by their previous_attributes (or
 * by content), and a deletion that keeps the details the other events told.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { createTestApp } from "./helpers/app.ts";
import { customerObject, stripeEvent, T0, testId } from "./helpers/stripe_objects.ts";
import { getCustomer } from "../kv/customers.ts";

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) =>
    permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest])
  );
}

async function recordAfter(events: Stripe.Event[], id: string) {
  const t = await createTestApp();
  try {
    for (const e of events) await t.services.stripeEvents.apply(e);
    const r = (await getCustomer(t.kv, id)).value;
    return r && {
      name: r.name,
      email: r.email,
      phone: r.phone,
      description: r.description,
      created: r.created,
      deleted: r.deleted,
    };
  } finally {
    await t.close();
  }
}

function customer(id: string, name: string, email: string): Stripe.Customer {
  return customerObject({ id, name, email, created: T0 });
}

Deno.test("two customer.updated in one second end in Stripe's last state, in every order", async () => {
  const id = testId("cus");
  const first = customer(id, "Lena First", "first@ex.com");
  const second = customer(id, "Lena Second", "second@ex.com");
  const third = customer(id, "Lena Third", "third@ex.com");
  const events = [
    stripeEvent("customer.created", first, T0),
    stripeEvent("customer.updated", second, T0 + 5, {
      previous: { name: "Lena First", email: "first@ex.com" },
    }),
    stripeEvent("customer.updated", third, T0 + 5, {
      previous: { name: "Lena Second", email: "second@ex.com" },
    }),
  ];
  for (const order of permutations(events)) {
    const r = await recordAfter(order, id);
    assert.equal(r?.name, "Lena Third", order.map((e) => e.type).join(","));
    assert.equal(r?.email, "third@ex.com");
  }
});

Deno.test("same-second updates without previous_attributes end alike in every order", async () => {
  const id = testId("cus");
  const events = [
    stripeEvent("customer.created", customer(id, "A", "a@ex.com"), T0),
    stripeEvent("customer.updated", customer(id, "B", "b@ex.com"), T0 + 5),
    stripeEvent("customer.updated", customer(id, "C", "c@ex.com"), T0 + 5),
    stripeEvent("customer.updated", customer(id, "D", "d@ex.com"), T0 + 5),
  ];
  const expected = await recordAfter(events, id);
  for (const order of permutations(events)) {
    assert.deepEqual(await recordAfter(order, id), expected);
  }
});

Deno.test("a deleted customer keeps the last details its events told, in every order", async () => {
  const id = testId("cus");
  const created = stripeEvent("customer.created", customer(id, "Old", "old@ex.com"), T0);
  const updated = stripeEvent("customer.updated", customer(id, "New", "new@ex.com"), T0 + 5, {
    previous: { name: "Old", email: "old@ex.com" },
  });
  const bare = { id, object: "customer", deleted: true } as unknown as Stripe.Customer;
  const full = {
    ...customer(id, "New", "new@ex.com"),
    deleted: true,
  } as unknown as Stripe.Customer;
  for (const deletion of [bare, full]) {
    const deleted = stripeEvent("customer.deleted", deletion, T0 + 10);
    for (const order of permutations([created, updated, deleted])) {
      const r = await recordAfter(order, id);
      assert.deepEqual(r, {
        name: "New",
        email: "new@ex.com",
        phone: null,
        description: null,
        created: new Date(T0 * 1000).toISOString(),
        deleted: true,
      }, order.map((e) => e.type).join(","));
    }
  }
});
