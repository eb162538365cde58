/**
 * Same-second customer updates whose texts are long (thousands of bytes each)
 * are processed as any other and the record shows Stripe's last state: the
 * snapshots tied on one second that decide it stay bounded whatever their
 * texts, as a KV value holds at most 64 KiB (README, "Stripe webhooks").
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { deliverSettled, withIntakeApp } from "./helpers/webhooks.ts";
import { stripeEvent, T0 } from "./helpers/stripe_objects.ts";
import { listJobs } from "../kv/jobs.ts";
import { getCustomer } from "../kv/customers.ts";
import { keys } from "../kv/keys.ts";
import type { CustomerRecord } from "../domain/customer.ts";

/** processed, or ignored as changing nothing shown; never failed */
async function deliver(t: TestApp, event: Stripe.Event, ignorable = false) {
  const stored = await deliverSettled(t, event);
  const status = ignorable && stored.status === "ignored" ? "processed" : stored.status;
  assert.equal(status, "processed", `${event.type}: ${stored.last_error ?? ""}`);
  assert.equal(stored.attempts, 1);
}

/** update k's texts (k = 0 for the customer as created) */
const texts = (k: number) => ({
  email: `${"é".repeat(500)}${k}@example.com`,
  name: `${"名".repeat(250)}${k}`,
  description: `${"説".repeat(345)}${k}`,
});

function customerEvent(id: string, k: number, previous?: Record<string, unknown>) {
  const object = {
    id,
    object: "customer",
    created: T0,
    phone: null,
    metadata: {},
    livemode: false,
    ...texts(k),
  };
  return stripeEvent(k ? "customer.updated" : "customer.created", object, T0, { previous });
}

async function shownName(t: TestApp, id: string): Promise<string> {
  const admin = await createAdmin(t, "admin");
  const res = await t.app.request(`/api/admin/payments/customers/${id}`, {
    headers: authHeaders(admin),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body).slice(0, 300));
  return body.customer.name;
}

Deno.test("20 same-second customer.updated of ~6 KB each are processed; the last is shown", async () => {
  for (const reversed of [false, true]) {
    await withIntakeApp(async (t) => {
      const id = "cus_r3lim";
      const updates = Array.from(
        { length: 20 },
        (_, i) => customerEvent(id, i + 1, texts(i)),
      );
      await deliver(t, customerEvent(id, 0));
      for (const e of reversed ? updates.toReversed() : updates) await deliver(t, e);
      assert.equal(await shownName(t, id), texts(20).name, reversed ? "reversed" : "in order");
      assert.deepEqual(await listJobs(t.kv), [], "nothing left to retry");
    });
  }
});

Deno.test("20 same-second updates without previous_attributes, each text 1,000 wide characters, are processed", async () => {
  await withIntakeApp(async (t) => {
    const id = "cus_r3wide";
    const wide = (k: number) => ({
      id,
      object: "customer",
      created: T0,
      email: `${"é".repeat(990)}${k}@x.io`,
      name: `${"名".repeat(998)}${String(k).padStart(2, "0")}`,
      phone: `${"電".repeat(998)}${k}`,
      description: `${"説".repeat(998)}${k}`,
      metadata: {},
      livemode: false,
    });
    await deliver(t, stripeEvent("customer.created", wide(0), T0));
    for (let k = 1; k <= 20; k++) {
      await deliver(t, stripeEvent("customer.updated", wide(k), T0), true);
    }
    // none names another's values as before: the greatest by content (the email first) is shown
    assert.equal(await shownName(t, id), wide(9).name);
    assert.deepEqual(await listJobs(t.kv), [], "nothing left to retry");
  });
});

Deno.test("a record whose tied snapshots were kept whole (written before digests) is read as before", async () => {
  await withIntakeApp(async (t) => {
    const id = "cus_r3legacy";
    // two same-second updates, the record written with full snapshots
    await deliver(t, customerEvent(id, 0));
    await deliver(t, customerEvent(id, 2, texts(1)));
    const entry = await getCustomer(t.kv, id);
    const details = (k: number) => ({ ...texts(k), phone: null, created: entry.value!.created });
    const legacy: CustomerRecord = {
      ...entry.value!,
      tied: [
        { v: details(2), p: { email: texts(1).email, name: texts(1).name } },
        { v: details(0), p: null },
      ],
    };
    await t.kv.set(keys.customer(id), legacy);
    // update 1 names update 0 as before, and update 2 names it: update 2 stays shown
    await deliver(t, customerEvent(id, 1, texts(0)));
    assert.equal(await shownName(t, id), texts(2).name);
    const after = (await getCustomer(t.kv, id)).value!;
    assert.ok(after.tied?.every((s) => "h" in s), "kept as digests from now on");
  });
});
