/**
 * The demo's seeding progress (README, Quick start) counts what its summary
 * counts: the customers made, the card tester and the dispute customer among
 * them, up to the summary's figure; and the pretty summary names the seeded
 * refund as the JSON log line's counts do.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { seedDemoData, seedLog, seedProgress } from "../cli/demo_seeding.ts";
import { StatusLine } from "../cli/status_line.ts";
import { createLogger } from "../core/log.ts";

Deno.test("demo seeding: the progress line counts up to the customers the summary counts, and the summary names the refund", async () => {
  await withRefundWorld(async (w) => {
    const written: string[] = [];
    const screen = new StatusLine({ terminal: true, write: (t) => written.push(t) });
    const summary = await seedDemoData(w.t.services, w.emu, w.t.deps.log, seedProgress(screen), 4);
    assert.equal(summary.refunded, 1);
    const counts = written.join("").split(/[\r\n]/).map((l) =>
      /seeding the demo account: (\d+)\/(\d+) customers/.exec(l)
    ).filter((m) => m !== null).map((m) => [Number(m![1]), Number(m![2])]);
    assert.ok(counts.length > 0);
    for (const [, total] of counts) assert.equal(total, summary.customers, "one total throughout");
    assert.equal(counts.at(-1)![0], summary.customers, `the last count shown: ${counts.at(-1)}`);
    assert.deepEqual(
      counts.map(([done]) => done),
      [...counts.map(([d]) => d)].sort((a, b) => a - b),
    );
    const end = written.at(-1)!;
    assert.match(
      end,
      new RegExp(
        `seeded the demo account: ${summary.customers} customers, ${summary.payments} payments, ` +
          `${summary.declined} declined, 1 refunded, ${summary.disputed} disputed`,
      ),
    );
  });
});

Deno.test("demo seeding, JSON logs: the counts, the refund among them, in the end line", () => {
  const lines: string[] = [];
  const progress = seedLog(createLogger("info", (l) => lines.push(l), {}, "json"));
  progress.done({ customers: 32, payments: 63, declined: 19, refunded: 1, disputed: 4 });
  assert.equal(JSON.parse(lines.at(-1)!).refunded, 1);
});
