/**
 * The audit log's `target` filter takes the kinds of id entries name and nothing else (README
 * "Inputs and headers": an id of another kind or no id is 422 on the field naming the forms it
 * takes, never an empty page): a cut-off `rfd_…`, a word or an email is 422 on `query.target`
 * in the list and the export alike, and every kind the services write as a target is taken and
 * finds its entries.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import type { IdPrefix } from "../core/ids.ts";

const LOG = "/api/admin/payments/audit-log";

async function refusal(res: Response) {
  const body = await res.json();
  assert.equal(res.status, 422, JSON.stringify(body));
  assert.equal(body.code, "validation_failed");
  assert.deepEqual(body.errors.map((e: { path: string }) => e.path), ["query.target"]);
  return body.errors[0].message as string;
}

Deno.test("a target no entry can name (cut off, a word, an email) is 422 on query.target naming the forms, list and export alike", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    await t.services.audit.record(systemContext("cli"), {
      action: "refund.create",
      target: { type: "refund", id: t.services.newId("rfd") },
      result: "ok",
    });
    const cases: [string, RegExp][] = [
      ["rfd_123", /^target: a refund's id is rfd_ and 26 digits and capital letters/],
      ["foo", /^target must be the id of what an entry is about/],
      ["ops%40example.com", /^target must be the id of what an entry is about/],
      ["", /^target must be/],
      ["fa_01JD3Y8Z6QKQ2X5N7S9V4W1T0", /^target: a fraud alert's id is fa_ and 26 digits/],
    ];
    for (const [value, wanted] of cases) {
      const listed = await refusal(
        await t.app.request(`${LOG}?target=${value}`, { headers: authHeaders(admin) }),
      );
      assert.match(listed, wanted, value);
      t.clock.advance(31_000); // the next code (README "Second factor": each code works once)
      const exported = await refusal(
        await t.app.request(`${LOG}/export?format=jsonl&target=${value}`, {
          headers: otpHeaders(t, admin),
        }),
      );
      assert.equal(exported, listed, value);
    }
    // the whole list names every kind, ours and Stripe's, a card, a rule and a permission
    const words = await refusal(
      await t.app.request(`${LOG}?target=foo`, { headers: authHeaders(admin) }),
    );
    for (
      const form of [
        "txn_",
        "rfd_",
        "dsp_",
        "rty_",
        "apr_",
        "adm_",
        "fa_",
        "fsz_",
        "sweep_",
        "ops_",
        "pi_",
        "ch_",
        "py_",
        "re_",
        "du_",
        "dp_",
        "evt_",
        "pm_",
        "cus_",
        "card:",
        "velocity",
        "refunds.create",
      ]
    ) assert.ok(words.includes(form), `${form} not named: ${words}`);
  });
});

Deno.test("every kind of target the services write is taken by the filter and finds its entry", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const ours: [string, IdPrefix][] = [
      ["transaction", "txn"],
      ["refund", "rfd"],
      ["dispute", "dsp"],
      ["retry", "rty"],
      ["approval", "apr"],
      ["admin", "adm"],
      ["fraud_alert", "fa"],
      ["fraud_snooze", "fsz"],
      ["fraud_sweep", "sweep"],
      ["ops_alert", "ops"],
    ];
    const targets: { type: string; id: string }[] = [
      ...ours.map(([type, prefix]) => ({ type, id: t.services.newId(prefix) })),
      { type: "webhook_event", id: "evt_1Q2w3E4r5T6y7U8i" },
      { type: "payment_method", id: "pm_1QabcDEF" },
      { type: "customer", id: "cus_R2d2C3po" },
      { type: "card", id: "card:fpAbC123" },
      { type: "fraud_rule", id: "velocity" },
      { type: "permission", id: "refunds.create" },
      // a payment, refund or dispute Stripe knows and we do not stands for itself
      { type: "transaction", id: "py_1Unknown" },
      { type: "dispute", id: "dp_1Unknown" },
    ];
    for (const target of targets) {
      await t.services.audit.record(systemContext("cli"), {
        action: "test.entry",
        target,
        result: "ok",
      });
    }
    for (const { id } of targets) {
      const res = await t.app.request(`${LOG}?target=${encodeURIComponent(id)}`, {
        headers: authHeaders(admin),
      });
      const body = await res.json();
      assert.equal(res.status, 200, `${id}: ${JSON.stringify(body)}`);
      assert.deepEqual(body.data.map((e: { target: { id: string } }) => e.target.id), [id], id);
    }
  });
});

Deno.test("the document's target pattern is the check: each form one alternative, as the server takes it", async () => {
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    for (const path of [LOG, `${LOG}/export`]) {
      const param = doc.paths[path].get.parameters.find((p: { name: string }) =>
        p.name === "target"
      );
      const pattern = new RegExp(param.schema.pattern);
      for (const ok of ["rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", "velocity", "card:fp1", "me.read"]) {
        assert.ok(pattern.test(ok), `${path}: ${ok}`);
      }
      for (const bad of ["rfd_123", "foo", "ops@example.com", "velocityx", "me_read"]) {
        assert.ok(!pattern.test(bad), `${path}: ${bad}`);
      }
    }
  });
});
