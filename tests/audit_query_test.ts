import assert from "node:assert/strict";
import { createTestApp, type TestApp, withTestApp } from "./helpers/app.ts";
import type { CallContext } from "../domain/actor.ts";
import type { AuditEntry, AuditQuery } from "../services/audit/service.ts";
import { AppError } from "../core/errors.ts";

const START = Date.UTC(2026, 10, 26, 9, 0, 0);

function as(actor: string): CallContext {
  return {
    actor: { type: "admin", id: actor, role: "operator" },
    request: null,
    second_factor: false,
  };
}

/**
 * 30 entries, one minute apart from START: actors alternate adm_a / adm_b,
 * actions cycle refund.create / refund.approve / dispute.note, targets t0..t4.
 */
async function seeded(): Promise<TestApp> {
  const t = await createTestApp();
  t.clock.set(START);
  const actions = ["refund.create", "refund.approve", "dispute.note"];
  for (let i = 1; i <= 30; i++) {
    await t.services.audit.record(as(i % 2 ? "adm_a" : "adm_b"), {
      action: actions[i % 3],
      target: { type: "refund", id: `t${i % 5}` },
      result: "ok",
    });
    t.clock.advance(60_000);
  }
  return t;
}

/** Every page of a listing, following next_cursor. */
async function allPages(t: TestApp, query: AuditQuery): Promise<AuditEntry[][]> {
  const pages: AuditEntry[][] = [];
  let cursor: string | undefined;
  do {
    const page = await t.services.audit.list({ ...query, ...(cursor ? { cursor } : {}) });
    pages.push(page.data);
    cursor = page.next_cursor ?? undefined;
    assert.ok(pages.length < 50, "pagination terminates");
  } while (cursor);
  return pages;
}

const seqs = (entries: AuditEntry[]) => entries.map((e) => e.seq);
const range = (from: number, to: number, keep: (n: number) => boolean = () => true) =>
  Array.from({ length: from - to + 1 }, (_, i) => from - i).filter(keep);

Deno.test("audit.list() pages through everything newest first with no repeat and no gap", async () => {
  const t = await seeded();
  try {
    const pages = await allPages(t, { limit: 7 });
    assert.deepEqual(pages.map((p) => p.length), [7, 7, 7, 7, 2]);
    assert.deepEqual(seqs(pages.flat()), range(30, 1));
    const exact = await allPages(t, { limit: 10 });
    assert.deepEqual(exact.map((p) => p.length), [10, 10, 10], "no empty last page");
  } finally {
    await t.close();
  }
});

Deno.test("audit.list() filters by actor, action and target through their indexes", async () => {
  const t = await seeded();
  try {
    const byActor = (await allPages(t, { actor: "adm_b", limit: 4 })).flat();
    assert.deepEqual(seqs(byActor), range(30, 1, (n) => n % 2 === 0));
    assert.ok(byActor.every((e) => e.actor.id === "adm_b"));

    const byAction = (await allPages(t, { action: "refund.approve", limit: 3 })).flat();
    assert.deepEqual(seqs(byAction), range(30, 1, (n) => n % 3 === 1));

    const byTarget = (await allPages(t, { target: "t2", limit: 100 })).flat();
    assert.deepEqual(seqs(byTarget), [27, 22, 17, 12, 7, 2]);

    const combined = (await allPages(t, { actor: "adm_a", action: "dispute.note", limit: 2 }))
      .flat();
    assert.deepEqual(seqs(combined), range(30, 1, (n) => n % 2 === 1 && n % 3 === 2));

    assert.deepEqual(await t.services.audit.list({ actor: "adm_nobody", limit: 25 }), {
      data: [],
      next_cursor: null,
    });
  } finally {
    await t.close();
  }
});

Deno.test("audit.list() bounds by time with from/to, inclusive, alone or with a filter", async () => {
  const t = await seeded();
  const minute = (n: number) => START + (n - 1) * 60_000; // the time of entry n
  try {
    const window = (await allPages(t, { from: minute(10), to: minute(14), limit: 2 })).flat();
    assert.deepEqual(seqs(window), [14, 13, 12, 11, 10]);

    const after = (await allPages(t, { from: minute(28) + 1, limit: 25 })).flat();
    assert.deepEqual(seqs(after), [30, 29]);

    const before = (await allPages(t, { to: minute(3), limit: 25 })).flat();
    assert.deepEqual(seqs(before), [3, 2, 1]);

    const withActor = (await allPages(t, { actor: "adm_a", from: minute(20), limit: 3 })).flat();
    assert.deepEqual(seqs(withActor), [29, 27, 25, 23, 21]);

    assert.equal((await t.services.audit.list({ from: minute(31), limit: 5 })).data.length, 0);
    assert.equal(
      (await t.services.audit.list({ from: minute(5), to: minute(4), limit: 5 })).data.length,
      0,
    );
  } finally {
    await t.close();
  }
});

Deno.test("audit.list() refuses a tampered cursor or one from another listing", async () => {
  const t = await seeded();
  try {
    const page = await t.services.audit.list({ actor: "adm_a", limit: 5 });
    assert.ok(page.next_cursor);
    const isCursorError = (e: unknown) =>
      e instanceof AppError && e.code === "validation_failed" &&
      e.errors?.[0]?.path === "query.cursor";
    await assert.rejects(
      t.services.audit.list({ actor: "adm_b", limit: 5, cursor: page.next_cursor }),
      isCursorError,
    );
    await assert.rejects(
      t.services.audit.list({ actor: "adm_a", limit: 5, cursor: page.next_cursor + "x" }),
      isCursorError,
    );
    const next = await t.services.audit.list({
      actor: "adm_a",
      limit: 5,
      cursor: page.next_cursor,
    });
    assert.deepEqual(seqs(next.data), [19, 17, 15, 13, 11]);
  } finally {
    await t.close();
  }
});

Deno.test("audit.list() shows entries appended after the first page on a fresh listing only", async () => {
  const t = await seeded();
  try {
    const first = await t.services.audit.list({ limit: 10 });
    await t.services.audit.record(as("adm_a"), { action: "late", target: null, result: "ok" });
    const second = await t.services.audit.list({ limit: 10, cursor: first.next_cursor! });
    assert.deepEqual(seqs(second.data), range(20, 11));
    assert.equal((await t.services.audit.list({ limit: 1 })).data[0].action, "late");
  } finally {
    await t.close();
  }
});

Deno.test("audit.list() with several filters over sparse matches hands back a cursor instead of scanning everything", async () => {
  await withTestApp(async (t) => {
    await Promise.all(Array.from({ length: 2500 }, (_, i) =>
      t.services.audit.record(as("adm_a"), {
        action: i === 100 || i === 2400 ? "refund.reject" : "refund.create",
        target: null,
        result: "ok",
      })));
    const first = await t.services.audit.list({
      actor: "adm_a",
      action: "refund.reject",
      limit: 5,
    });
    assert.ok(first.next_cursor, "scan budget reached: a cursor to go on");
    assert.ok(first.data.length <= 1);
    const all = (await allPages(t, { actor: "adm_a", action: "refund.reject", limit: 5 })).flat();
    assert.deepEqual(seqs(all), [2401, 101]);
  });
});
