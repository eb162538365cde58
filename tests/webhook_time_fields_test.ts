/**
 * Stripe's times (whole seconds since the epoch) the service turns into
 * dates: an event whose object carries one that is no such time fails naming
 * the field, and nothing of it is applied (README, "Stripe webhooks"); a
 * record stored before that refusal, holding such a time, is shown with null
 * rather than failing every answer that lists it.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, type TestAdmin } from "./helpers/identity.ts";
import { deliverSettled, withIntakeApp } from "./helpers/webhooks.ts";
import { paymentStory, stripeEvent, T0, testId } from "./helpers/stripe_objects.ts";
import { getDispute, getDisputeIdByStripe } from "../kv/disputes.ts";
import { keys } from "../kv/keys.ts";

const API = "/api/admin/payments";

async function withIntake(fn: (t: TestApp, admin: TestAdmin) => Promise<void>) {
  await withIntakeApp(async (t) => await fn(t, await createAdmin(t, "admin")));
}

async function paid(t: TestApp, customer: string) {
  const story = paymentStory({ customer, amount: 5000 });
  for (const e of [story.created(T0), ...story.succeeded(T0 + 1)]) await deliverSettled(t, e);
  return story;
}

async function get(t: TestApp, admin: TestAdmin, path: string) {
  const res = await t.app.request(`${API}${path}`, { headers: authHeaders(admin) });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** A dispute event whose `evidence_details.due_by` is `dueBy`, as it would be signed. */
function disputeWithDueBy(story: ReturnType<typeof paymentStory>, dueBy: unknown) {
  const event = story.dispute(T0 + 86400, "charge.dispute.created", { id: testId("du") });
  const du = event.data.object as unknown as { evidence_details: Record<string, unknown> };
  du.evidence_details.due_by = dueBy;
  return event;
}

Deno.test("a dispute whose evidence due_by is no Stripe time fails naming the field, and nothing is applied", async () => {
  await withIntake(async (t, admin) => {
    const story = await paid(t, "cus_dueBy1");
    const txn = await t.services.transactions.get(story.pi);
    for (
      const [dueBy, said] of [
        [1e20, "100000000000000000000 is out of range"],
        ["x", '"x" is a string'],
        [T0 + 0.5, `${T0 + 0.5} is not a whole number of seconds`],
        [-1, "-1 is out of range"],
      ] as const
    ) {
      const stored = await deliverSettled(t, disputeWithDueBy(story, dueBy));
      assert.equal(stored.status, "failed", `due_by ${dueBy}`);
      assert.ok(
        stored.last_error?.startsWith(`data.object.evidence_details.due_by: ${said}`),
        stored.last_error ?? "",
      );
      assert.match(stored.last_error!, /whole seconds since the epoch/);
    }
    const disputes = await get(t, admin, "/disputes");
    assert.deepEqual(disputes.data, [], "nothing of those events is applied");
    const shown = await get(t, admin, `/transactions/${txn.id}`);
    assert.equal(shown.dispute_status, null);
    // a null due_by is Stripe's own (no deadline): applied
    const none = await deliverSettled(t, disputeWithDueBy(story, null));
    assert.equal(none.status, "processed", none.last_error ?? "");
    const listed = await get(t, admin, "/disputes");
    assert.equal(listed.data.length, 1);
    assert.equal(listed.data[0].evidence_due_by, null);
  });
});

Deno.test("a missing or unusable created, on any object, fails naming data.object.created; an array object says so", async () => {
  await withIntake(async (t) => {
    const story = await paid(t, "cus_created1");
    const customer = (fields: Record<string, unknown>) =>
      stripeEvent("customer.created", {
        id: testId("cus"),
        object: "customer",
        email: "c@example.com",
        metadata: {},
        livemode: false,
        ...fields,
      } as { id: string }, T0);
    const dispute = (created: unknown) => {
      const event = story.dispute(T0 + 86400, "charge.dispute.created", { id: testId("du") });
      (event.data.object as unknown as Record<string, unknown>).created = created;
      return event;
    };
    const refund = (created: unknown) => {
      const event = story.refund(T0 + 50, 100).created;
      (event.data.object as unknown as Record<string, unknown>).created = created;
      return event;
    };
    const cases: [string, Stripe.Event, RegExp][] = [
      ["customer without created", customer({}), /created \(a number, missing\)/],
      ["customer created abc", customer({ created: "abc" }), /created \(a number, got string\)/],
      [
        "customer created 1e20",
        customer({ created: 1e20 }),
        /^data\.object\.created: 100000000000000000000 is out of range/,
      ],
      ["dispute created x", dispute("x"), /^dispute du_\w+ lacks .*created \(a number, got string/],
      [
        "refund created 1e20",
        refund(1e20),
        /^data\.object\.created: 100000000000000000000 is out of range/,
      ],
      [
        "an array object",
        stripeEvent("customer.created", [1] as unknown as { id: string }, T0),
        /^data\.object is an array, not a Stripe object/,
      ],
      [
        "a customer event about no customer",
        stripeEvent("customer.updated", { id: "x_1", object: "charge" } as { id: string }, T0),
        /^data\.object\.object: "charge", not "customer"/,
      ],
    ];
    for (const [name, event, expected] of cases) {
      const stored = await deliverSettled(t, event);
      assert.equal(stored.status, "failed", name);
      assert.match(stored.last_error ?? "", expected, name);
      assert.doesNotMatch(stored.last_error ?? "", /Invalid time value/, name);
    }
    // a customer.deleted carries only the id (Stripe's DeletedCustomer): still applied
    const gone = stripeEvent("customer.deleted", {
      id: "cus_created1",
      object: "customer",
      deleted: true,
    } as { id: string }, T0 + 99);
    const deleted = await deliverSettled(t, gone);
    assert.equal(deleted.status, "processed", deleted.last_error ?? "");
  });
});

Deno.test("a dispute record stored with an unusable evidence_due_by (before the check) lists with null, not a 500", async () => {
  await withIntake(async (t, admin) => {
    const story = await paid(t, "cus_dueBy2");
    const event = story.dispute(T0 + 86400, "charge.dispute.created", { id: testId("du") });
    assert.equal((await deliverSettled(t, event)).status, "processed");
    const du = (event.data.object as { id: string }).id;
    const id = (await getDisputeIdByStripe(t.kv, du)).value!;
    const txn = await t.services.transactions.get(story.pi);
    for (const bad of [1e20, "x"]) {
      // as the intake stored it before refusing such times
      const entry = await getDispute(t.kv, id);
      const history = entry.value!.history.map((h) => ({
        ...h,
        changes: { ...h.changes, evidence_due_by: bad },
      }));
      await t.kv.set(keys.dispute(id), { ...entry.value!, evidence_due_by: bad, history });
      const listed = await get(t, admin, "/disputes");
      assert.equal(listed.data[0].evidence_due_by, null);
      assert.equal(listed.data[0].time_left_s, null);
      const detail = await get(t, admin, `/disputes/${id}`);
      assert.equal(detail.evidence_due_by, null);
      assert.equal(detail.history[0].changes.evidence_due_by, null);
      const shown = await get(t, admin, `/transactions/${txn.id}`);
      assert.equal(shown.activity?.disputes?.[0]?.evidence_due_by ?? null, null);
      assert.ok(
        t.logs.some((l) => l.includes("unusable evidence_due_by") && l.includes(du)),
        "a log line names the record",
      );
    }
  });
});
