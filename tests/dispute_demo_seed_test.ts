import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { seedDemoDisputes } from "../services/demo_seed.ts";

Deno.test("the demo seeds disputes in several states: due within 24 h, an inquiry, one won", async () => {
  await withRefundWorld(async (w) => {
    assert.deepEqual(await seedDemoDisputes(w.t.deps.stripe, w.emu, w.t.deps.log), {
      customers: 1,
      payments: 3,
      disputed: 3,
    });
    await w.deliver();
    const { data } = await w.t.services.disputes.list({ limit: 10 });
    const byStatus = Object.fromEntries(data.map((d) => [d.status, d]));
    assert.deepEqual(Object.keys(byStatus).sort(), [
      "needs_response",
      "warning_needs_response",
      "won",
    ]);
    const urgent = byStatus.needs_response;
    assert.ok(urgent.time_left_s! > 0 && urgent.time_left_s! < 24 * 3600, `${urgent.time_left_s}`);
    assert.equal(byStatus.won.phase, "won");
    assert.equal(byStatus.warning_needs_response.funds_withdrawn, 0);
    const due = await w.t.services.disputes.remind();
    assert.deepEqual(due, { reminded: 1, overdue: 0 });
  });
});
