import assert from "node:assert/strict";
import { startEmulator } from "../emulator/mod.ts";
import { responseHeader, stripeFor } from "./helpers/emulator.ts";

Deno.test("emulator: state survives a restart through statePath", async () => {
  const dir = await Deno.makeTempDir({ prefix: "emulator_state_" });
  const statePath = `${dir}/state.json`;
  try {
    const first = await startEmulator({ statePath });
    let customerId: string;
    let piId: string;
    try {
      const stripe = stripeFor(first);
      customerId = (await stripe.customers.create({ email: "keep@example.com" })).id;
      piId = (await stripe.paymentIntents.create({
        amount: 1000,
        currency: "usd",
        customer: customerId,
        payment_method: "pm_card_visa",
        confirm: true,
      }, { idempotencyKey: "persisted-key" })).id;
    } finally {
      await first.close();
    }
    const saved = JSON.parse(await Deno.readTextFile(statePath));
    assert.equal(saved.objects.customers.length, 1);

    const second = await startEmulator({ statePath });
    try {
      const stripe = stripeFor(second);
      assert.equal((await stripe.customers.retrieve(customerId)).id, customerId);
      const pi = await stripe.paymentIntents.retrieve(piId);
      assert.equal(pi.status, "succeeded");
      const charges = await stripe.charges.list({ payment_intent: piId });
      assert.equal(charges.data.length, 1);
      const replay = await stripe.paymentIntents.create({
        amount: 1000,
        currency: "usd",
        customer: customerId,
        payment_method: "pm_card_visa",
        confirm: true,
      }, { idempotencyKey: "persisted-key" });
      assert.equal(replay.id, piId);
      assert.equal(responseHeader(replay, "idempotent-replayed"), "true");
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("emulator: a missing state file starts empty", async () => {
  const dir = await Deno.makeTempDir({ prefix: "emulator_state_" });
  try {
    const emu = await startEmulator({ statePath: `${dir}/none.json` });
    try {
      assert.equal((await stripeFor(emu).customers.list()).data.length, 0);
    } finally {
      await emu.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
