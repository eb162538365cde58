/**
 * What a JSON body's bytes may be (README "Inputs and headers"): UTF-8 only. A charset other
 * than UTF-8 is `415` naming it; bytes that are no UTF-8 are `422` on `body` naming the byte and
 * its offset, before anything is looked up or written (a note saved as `caf\uFFFD` would stay in
 * the hash-chained audit log for good); a JSON type the route does not declare
 * (`application/merge-patch+json`) is `415` naming the one it does.
 */
import assert from "node:assert/strict";
import { otpHeaders, stepUpHeaders } from "./helpers/identity.ts";
import { stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import { kvSnapshot, TEST_WEBHOOK_SECRETS, withWebhookApp } from "./helpers/webhooks.ts";
import { decodeUtf8, hex } from "../core/encoding.ts";

const REFUNDS = "/api/admin/payments/refunds";

/** `text` as ISO-8859-1 bytes (every character below U+0100): `é` is the one byte 0xE9. */
function latin1(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function refundJson(txnId: string, note: string): string {
  return JSON.stringify({ transaction_id: txnId, reason: "requested_by_customer", note });
}

Deno.test("a body declared in another charset is 415 naming it and saying to send UTF-8; nothing refunded", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const text = refundJson(pay.txnId, "café au lait");
    for (
      const type of ["application/json; charset=iso-8859-1", 'application/json;charset="latin1"']
    ) {
      const res = await w.t.app.request(REFUNDS, {
        method: "POST",
        headers: { ...otpHeaders(w.t, w.operator), "content-type": type },
        body: latin1(text),
      });
      assert.equal(res.status, 415, type);
      const body = await res.json();
      assert.equal(body.code, "unsupported_media_type");
      assert.match(body.detail, /iso-8859-1|latin1/);
      assert.match(body.detail, /UTF-8/);
    }
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
  });
});

Deno.test("bytes that are no UTF-8 are 422 on body naming the byte and its offset; nothing refunded or audited", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    const text = refundJson(pay.txnId, "café au lait");
    const offset = text.indexOf("é");
    const before = (await w.t.services.audit.list({ limit: 100 })).data.length;
    const res = await w.t.app.request(REFUNDS, {
      method: "POST",
      headers: { ...otpHeaders(w.t, w.operator), "content-type": "application/json" },
      body: latin1(text),
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.code, "validation_failed");
    assert.equal(body.errors.length, 1);
    assert.equal(body.errors[0].path, "body");
    assert.match(body.errors[0].message, new RegExp(`\\b${offset}\\b`));
    assert.match(body.errors[0].message, /0xE9/);
    assert.match(body.errors[0].message, /UTF-8/);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
    const after = (await w.t.services.audit.list({ limit: 100 })).data;
    assert.equal(after.length, before, "no audit entry: refused before anything is looked up");
  });
});

Deno.test("UTF-8, said so in any spelling or not at all, is taken as it is", async () => {
  await withRefundWorld(async (w) => {
    const headers = await stepUpHeaders(w.t, w.operator);
    const types = [
      "application/json",
      "application/json; charset=UTF-8",
      "application/json; charset=utf8",
    ];
    for (const [i, type] of types.entries()) {
      const pay = await w.pay(1000 + i);
      const res = await w.t.app.request(REFUNDS, {
        method: "POST",
        headers: { ...headers, "content-type": type },
        body: new TextEncoder().encode(refundJson(pay.txnId, `café ${i} ☕`)),
      });
      assert.equal(res.status, 201, `${type}: ${await res.clone().text()}`);
      assert.equal((await res.json()).note, `café ${i} ☕`);
    }
  });
});

Deno.test("a JSON type the route does not declare (merge-patch, JSON:API) is 415 naming application/json", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    for (const type of ["application/merge-patch+json", "application/vnd.api+json"]) {
      const res = await w.t.app.request(REFUNDS, {
        method: "POST",
        headers: { ...otpHeaders(w.t, w.operator), "content-type": type },
        body: refundJson(pay.txnId, "wrong type"),
      });
      assert.equal(res.status, 415, type);
      const body = await res.json();
      assert.equal(body.code, "unsupported_media_type");
      assert.match(body.detail, new RegExp(type.replace("+", "\\+")));
      assert.match(body.detail, /send application\/json/);
    }
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
  });
});

/** Stripe's `Stripe-Signature` over raw bytes (its scheme: HMAC-SHA256 of `t.` and the body). */
async function signBytes(bytes: Uint8Array, secret: string, t: number): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signed = new Uint8Array([...new TextEncoder().encode(`${t}.`), ...bytes]);
  return `t=${t},v1=${hex(await crypto.subtle.sign("HMAC", key, signed))}`;
}

Deno.test("the webhook intake refuses a body that is no UTF-8 (422 naming the offset), storing nothing", async () => {
  await withWebhookApp(async (t) => {
    const before = await kvSnapshot(t.kv);
    const text = JSON.stringify({
      id: "evt_latin1",
      object: "event",
      type: "customer.updated",
      data: { object: { id: "cus_latin1", object: "customer", name: "Zoé" } },
    });
    const bytes = latin1(text);
    const at = Math.floor(t.clock.now() / 1000);
    const res = await t.app.request("/api/webhooks/stripe", {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": await signBytes(bytes, TEST_WEBHOOK_SECRETS[0], at),
      },
      body: bytes,
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.code, "validation_failed");
    assert.equal(body.errors[0].path, "body");
    assert.match(body.errors[0].message, new RegExp(`offset ${text.indexOf("é")}\\b`));
    assert.deepEqual(await kvSnapshot(t.kv), before);
  });
});

Deno.test("decodeUtf8 names the first byte that begins no UTF-8 character", () => {
  const at = (...bytes: number[]) => {
    const r = decodeUtf8(new Uint8Array(bytes));
    return "text" in r ? r.text : [r.offset, r.byte];
  };
  assert.equal(at(0x63, 0xc3, 0xa9), "cé");
  assert.equal(at(0xf0, 0x9f, 0x98, 0x80), "\u{1F600}");
  assert.deepEqual(at(0x63, 0x61, 0x66, 0xe9, 0x20), [3, 0xe9], "ISO-8859-1 é");
  assert.deepEqual(at(0x61, 0xc0, 0xaf), [1, 0xc0], "an overlong /");
  assert.deepEqual(at(0x61, 0xe0, 0x80, 0xaf), [1, 0xe0], "an overlong / in three bytes");
  assert.deepEqual(at(0x61, 0x62, 0xed, 0xa0, 0x80), [2, 0xed], "a surrogate (CESU-8)");
  assert.deepEqual(at(0xf4, 0x90, 0x80, 0x80), [0, 0xf4], "past U+10FFFF");
  assert.deepEqual(at(0x61, 0x80), [1, 0x80], "a continuation byte alone");
  assert.deepEqual(at(0x61, 0x62, 0xe2, 0x82), [2, 0xe2], "cut off at the end");
  assert.deepEqual(at(0xc3, 0xa9, 0xc3, 0x28), [2, 0xc3], "a lead byte without its continuation");
});
