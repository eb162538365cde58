/**
 * The job table's log lines (README, Stripe outages, "job failed"): a failed
 * attempt says when the job runs again and which attempt it was; the last one
 * says the job is dead (what `payops_jobs_dead` counts) and what a person does.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { addJob } from "../kv/jobs.ts";
import { createIdFactory } from "../core/ids.ts";
import { runJobs } from "../services/background.ts";

Deno.test("a failed job's log line says when it runs again; the last attempt's says it is dead and what to do", async () => {
  await withTestApp(async (t) => {
    const newId = createIdFactory(t.clock);
    const op = t.kv.atomic();
    const flaky = addJob(op, t.clock, newId, "no.such.kind", {}, { maxAttempts: 2 });
    await op.commit();

    await runJobs(t.services);
    const failed = t.logs.map((l) => JSON.parse(l)).find((l) => l.job_id === flaky.id);
    assert.ok(failed, t.logs.join("\n"));
    assert.equal(failed.level, "warn");
    assert.equal(failed.msg, "job failed; it runs again");
    assert.equal(failed.attempts, 1);
    assert.equal(failed.max_attempts, 2);
    assert.equal(failed.retry_at, new Date(t.clock.now() + 5_000).toISOString());

    t.clock.advance(5_000);
    t.logs.length = 0;
    await runJobs(t.services);
    const dead = t.logs.map((l) => JSON.parse(l)).find((l) => l.job_id === flaky.id);
    assert.ok(dead, t.logs.join("\n"));
    assert.equal(dead.level, "error");
    assert.equal(dead.msg, "job dead: out of attempts");
    assert.equal(dead.attempts, 2);
    assert.match(dead.next, /payops_jobs_dead/);
  });
});
