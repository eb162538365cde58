/** The seeded demo account shows alerts of several rules once its webhooks are in. */
import assert from "node:assert/strict";
import { withEmulatorApp } from "./helpers/webhooks.ts";
import { seedDemoAccount } from "../services/demo_seed.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";

Deno.test("the demo account raises alerts of several fraud rules on first start", async () => {
  await withEmulatorApp(async ({ t, gateway, settle }) => {
    await seedDemoAccount(gateway, t.deps.log, 8);
    await settle();
    t.clock.advance(WALK_LAG_MS);
    await t.services.fraud.live({ trigger: "test" });
    const page = await t.services.fraud.listAlerts({ limit: 100 });
    const rules = new Set(page.data.map((a) => a.rule));
    for (const rule of ["velocity", "failed_attempts", "payment_method_churn", "stripe_risk"]) {
      assert.ok(rules.has(rule as never), `${rule} among ${[...rules]}`);
    }
  });
});
