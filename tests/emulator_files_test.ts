import assert from "node:assert/strict";
import Stripe from "stripe";
import { withEmulator } from "./helpers/emulator.ts";
import { assertShape } from "./fixtures/stripe_shapes.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]);

function upload(stripe: Stripe, data: Uint8Array, name: string, type: string) {
  return stripe.files.create({ purpose: "dispute_evidence", file: { data, name, type } });
}

Deno.test("files: PNG and JPEG dispute evidence uploads return Stripe File objects", async () => {
  await withEmulator(async ({ stripe }) => {
    const png = await upload(stripe, PNG, "photo.png", "image/png");
    assert.match(png.id, /^file_/);
    assert.equal(png.type, "png");
    assert.equal(png.size, PNG.length);
    assert.equal(png.filename, "photo.png");
    assert.equal(png.purpose, "dispute_evidence");
    assertShape(png);
    const jpg = await upload(stripe, JPEG, "scan.jpg", "image/jpeg");
    assert.equal(jpg.type, "jpg");
    const fetched = await stripe.files.retrieve(png.id);
    assert.deepEqual([fetched.id, fetched.size, fetched.type], [png.id, png.size, "png"]);
    const listed = await stripe.files.list({ purpose: "dispute_evidence" });
    assert.deepEqual(listed.data.map((f) => f.id), [jpg.id, png.id]);
    await assert.rejects(
      stripe.files.retrieve("file_missing"),
      (e: Stripe.errors.StripeError) => e.statusCode === 404 && e.code === "resource_missing",
    );
  });
});

Deno.test("files: dispute evidence must be PDF, JPEG or PNG of at most 5 MB", async () => {
  await withEmulator(async ({ stripe }) => {
    await assert.rejects(
      upload(stripe, new TextEncoder().encode("just text"), "notes.txt", "text/plain"),
      (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.param === "file",
    );
    const big = new Uint8Array(5 * 1024 * 1024 + 1);
    big.set(PNG);
    await assert.rejects(
      upload(stripe, big, "huge.png", "image/png"),
      (e: Stripe.errors.StripeError) => e.code === "file_too_large",
    );
    const max = new Uint8Array(5 * 1024 * 1024);
    max.set(PNG);
    assert.equal((await upload(stripe, max, "max.png", "image/png")).size, max.length);
  });
});
