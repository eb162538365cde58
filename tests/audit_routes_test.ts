import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders } from "./helpers/identity.ts";
import type { CallContext } from "../domain/actor.ts";
import { entryHash } from "../services/audit/entry.ts";
import { CSV_COLUMNS, csvCell } from "../services/audit/export.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { keys } from "../kv/keys.ts";
import { splitExport } from "./helpers/readme_export_check.ts";

const BASE = "/api/admin/payments/audit-log";

/** an operator's id, in the shape the service mints it (`adm_` + 26 characters) */
const OPERATOR_ID = "adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";

const operator: CallContext = {
  actor: { type: "admin", id: OPERATOR_ID, role: "operator" },
  request: { request_id: "req_op", ip: "192.0.2.7", user_agent: "ua" },
  second_factor: true,
};

/** The i-th entry's refund id, in the shape the service makes them (the target filter takes no other). */
const rfd = (i: number) => `rfd_${String(i).padStart(26, "0")}`;

async function withEntries(t: TestApp, n: number) {
  for (let i = 1; i <= n; i++) {
    await t.services.audit.record(operator, {
      action: "refund.create",
      target: { type: "refund", id: rfd(i) },
      result: i % 4 === 0 ? "denied" : "ok",
      reason: i === 2 ? 'says "hi", then\nleaves' : i === 3 ? '=HYPERLINK("x")' : `note ${i}`,
    });
    t.clock.advance(1000);
  }
}

Deno.test("GET /audit-log lists newest first for an auditor, with filters and a cursor", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    await withEntries(t, 6);
    const res = await t.app.request(`${BASE}?actor=${OPERATOR_ID}&limit=4`, {
      headers: authHeaders(auditor),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const page = await res.json();
    assert.equal(page.data.length, 4);
    assert.deepEqual(page.data.map((e: AuditEntry) => e.target?.id), [6, 5, 4, 3].map(rfd));
    assert.equal(typeof page.next_cursor, "string");
    const next = await t.app.request(
      `${BASE}?actor=${OPERATOR_ID}&limit=4&cursor=${encodeURIComponent(page.next_cursor)}`,
      { headers: authHeaders(auditor) },
    );
    const page2 = await next.json();
    assert.deepEqual(page2.data.map((e: AuditEntry) => e.target?.id), [2, 1].map(rfd));
    assert.equal(page2.next_cursor, null);

    const byTarget = await (await t.app.request(`${BASE}?target=${rfd(5)}`, {
      headers: authHeaders(auditor),
    })).json();
    assert.deepEqual(byTarget.data.map((e: AuditEntry) => e.seq).length, 1);
    assert.equal(byTarget.data[0].target.id, rfd(5));
  });
});

Deno.test("GET /audit-log refuses bad dates, limits and cursors with 422 naming the field", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    for (
      const [query, path] of [
        ["from=yesterday", "query.from"],
        ["to=2026-13-01T00:00:00Z", "query.to"],
        ["limit=0", "query.limit"],
        ["limit=101", "query.limit"],
        ["cursor=abc.def", "query.cursor"],
      ]
    ) {
      const res = await t.app.request(`${BASE}?${query}`, { headers: authHeaders(admin) });
      assert.equal(res.status, 422, query);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const body = await res.json();
      assert.equal(body.code, "validation_failed");
      assert.equal(body.errors[0].path, path, query);
    }
    const ok = await t.app.request(
      `${BASE}?from=2026-11-26T09:00:00Z&to=2026-11-26T10:00:00%2B01:00`,
      { headers: authHeaders(admin) },
    );
    assert.equal(ok.status, 200);
  });
});

Deno.test("the audit log is closed to roles other than auditor and admin", async () => {
  await withTestApp(async (t) => {
    const op = await createAdmin(t, "operator");
    for (const path of [BASE, `${BASE}/verify`]) {
      const res = await t.app.request(path, { headers: authHeaders(op) });
      assert.equal(res.status, 403, path);
      assert.equal((await res.json()).code, "forbidden");
    }
    assert.equal((await t.app.request(BASE)).status, 401);
  });
});

Deno.test("GET /audit-log/verify reports an intact chain, then the edited entry", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    await withEntries(t, 5);
    const good = await t.app.request(`${BASE}/verify`, { headers: authHeaders(auditor) });
    assert.equal(good.status, 200);
    const body = await good.json();
    assert.equal(body.ok, true);
    assert.equal(body.entries, body.head.seq);
    assert.ok(body.entries >= 5);

    const seq = body.head.seq - 2;
    const e = (await t.kv.get<AuditEntry>(keys.auditEntry(seq))).value!;
    await t.kv.set(keys.auditEntry(seq), { ...e, result: "ok", reason: "edited" });
    const bad = await (await t.app.request(`${BASE}/verify`, { headers: authHeaders(auditor) }))
      .json();
    assert.equal(bad.ok, false);
    assert.deepEqual(
      { seq: bad.first_bad.seq, problem: bad.first_bad.problem },
      { seq, problem: "hash_mismatch" },
    );
  });
});

Deno.test("GET /audit-log/export needs a second factor", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    const res = await t.app.request(`${BASE}/export`, { headers: authHeaders(auditor) });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).code, "otp_required");
  });
});

Deno.test("GET /audit-log/export?format=jsonl streams entries as stored and audits the export", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    await withEntries(t, 5);
    const res = await t.app.request(`${BASE}/export?format=jsonl&action=refund.create`, {
      headers: otpHeaders(t, auditor),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    assert.match(
      res.headers.get("content-disposition") ?? "",
      /^attachment; filename="audit-log-.+\.jsonl"$/,
    );
    const { entries: lines, summary } = splitExport(await res.text());
    assert.deepEqual(lines.map((e) => e.target?.id), [1, 2, 3, 4, 5].map(rfd));
    for (const e of lines) assert.equal(await entryHash(e), e.hash, "hash recomputes offline");
    // the last line says what the export holds (README, "A first session, in curl")
    assert.equal(summary.export_summary.complete, true);
    assert.equal(summary.export_summary.entries, 5);
    assert.deepEqual(summary.export_summary.filters, { action: "refund.create" });

    const recorded = (await t.services.audit.list({ action: "audit.export", limit: 5 })).data;
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0].actor.id, auditor.id);
    assert.equal(recorded[0].second_factor, true);
    assert.deepEqual(recorded[0].after, {
      format: "jsonl",
      filters: { action: "refund.create" },
    });
  });
});

Deno.test("GET /audit-log/export?format=csv quotes commas, quotes and newlines and defuses formulas", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    await withEntries(t, 3);
    const res = await t.app.request(`${BASE}/export?format=csv&actor=${OPERATOR_ID}`, {
      headers: otpHeaders(t, admin),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
    assert.match(res.headers.get("content-disposition") ?? "", /filename=".+\.csv"/);
    const text = await res.text();
    assert.ok(text.startsWith(CSV_COLUMNS.join(",") + "\r\n"));
    assert.ok(text.includes(',"says ""hi"", then\nleaves",'), "quoted and escaped");
    assert.ok(text.includes(`,"'=HYPERLINK(""x"")",`), "formula defused");
    assert.equal(text.split("\r\n").filter((l) => l.includes("refund.create")).length, 3);
  });
});

Deno.test("csvCell follows RFC 4180 and leaves plain values alone", () => {
  assert.equal(csvCell("plain"), "plain");
  assert.equal(csvCell(null), "");
  assert.equal(csvCell(42), "42");
  assert.equal(csvCell(true), "true");
  assert.equal(csvCell("a,b"), '"a,b"');
  assert.equal(csvCell('a"b'), '"a""b"');
  assert.equal(csvCell("line\r\nbreak"), '"line\r\nbreak"');
  assert.equal(csvCell(" padded "), '" padded "');
  assert.equal(csvCell("+1"), "'+1");
  assert.equal(csvCell("@SUM(A1)"), "'@SUM(A1)");
  assert.equal(csvCell({ amount: 5, note: "x" }), '"{""amount"":5,""note"":""x""}"');
});

Deno.test("GET /audit-log/verify: expect_seq=0 is the chain's start, 64 zeros (README, Audit checkpoints); another hash there is a mismatch", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    await withEntries(t, 5);
    const verify = async (query: string) =>
      await (await t.app.request(`${BASE}/verify?${query}`, { headers: authHeaders(auditor) }))
        .json();
    const genesis = "0".repeat(64);
    for (const full of ["", "&full=true"]) {
      assert.equal((await verify(`expect_seq=0&expect_hash=${genesis}${full}`)).ok, true);
      const bad = await verify(`expect_seq=0&expect_hash=${"ab".repeat(32)}${full}`);
      assert.equal(bad.ok, false, full);
      assert.deepEqual(
        { seq: bad.first_bad.seq, problem: bad.first_bad.problem },
        { seq: 0, problem: "hash_mismatch" },
      );
    }
  });
});
