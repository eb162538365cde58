/**
 * A self-describing audit export (README, "A first session, in curl"): JSON Lines and CSV end
 * with the same summary (filters, seq range, entries written, the head when the export began,
 * `complete: true`), and the README's offline check, run as printed, relies on it: "the whole
 * chain" only for an unfiltered export running from seq 1 to that head with no gap; a filtered
 * one (an `actor`, a `to`) never, even when its seqs run on without a gap; a download cut short
 * (mid-line, or before the summary), an unfiltered or time-range-only export missing an entry
 * (`at` never decreases, so a time range holds every seq of its `seq_range`) and entries outside
 * the summary's `seq_range` fail, non-zero; the CSV export is named as such; blank lines after
 * the summary are nothing.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { createAdmin, otpHeaders, type TestAdmin } from "./helpers/identity.ts";
import { addRefundEntries } from "./helpers/audit_chain.ts";
import { jsonLines, runReadmeCheck, splitExport } from "./helpers/readme_export_check.ts";
import { keys } from "../kv/keys.ts";
import { CSV_COLUMNS } from "../services/audit/export.ts";

const WHOLE = /^ok: last seq (\d+) hash ([0-9a-f]{64}); (\d+) entries, the whole chain checked$/m;
const FILTERED = /^ok: a filtered export \(.*\): \d+ entries, .*; not the whole chain/m;
const TIME_RANGE =
  /^ok: a time-range export \(.*\): seqs \d+-\d+, \d+ entries, .*; not the whole chain/m;

async function exportOf(t: TestApp, admin: TestAdmin, query = "", format = "jsonl") {
  t.clock.advance(30_000); // a fresh code for each export
  const res = await t.app.request(
    `/api/admin/payments/audit-log/export?format=${format}${query}`,
    { headers: otpHeaders(t, admin) },
  );
  assert.equal(res.status, 200);
  return await res.text();
}

/** Writes `text` to a temp file and runs the README's check on it. */
async function checkText(text: string) {
  const file = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    await Deno.writeTextFile(file, text);
    return await runReadmeCheck(file);
  } finally {
    await Deno.remove(file);
  }
}

/** An admin and 12 more entries, a second apart. */
async function chain(t: TestApp) {
  const admin = await createAdmin(t, "admin");
  await addRefundEntries(t, 12);
  return admin;
}

Deno.test("README's check: a complete unfiltered export is the whole chain, 1 to the head in its summary", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    const text = await exportOf(t, admin);
    const { entries, summary } = splitExport(text);
    const s = summary.export_summary;
    assert.equal(s.complete, true);
    assert.deepEqual(s.filters, {});
    assert.equal(s.entries, entries.length);
    assert.deepEqual(
      entries.map((e) => e.seq),
      [...Array(entries.length).keys()].map((i) => i + 1),
    );
    assert.deepEqual(s.head, { seq: entries.at(-1)!.seq, hash: entries.at(-1)!.hash });
    assert.deepEqual(s.seq_range, { from: 1, to: s.head.seq });
    const ok = await checkText(text);
    assert.equal(ok.code, 0, ok.text);
    const m = WHOLE.exec(ok.text)!;
    assert.ok(m, ok.text);
    assert.deepEqual([Number(m[1]), m[2], Number(m[3])], [s.head.seq, s.head.hash, entries.length]);
  });
});

Deno.test("README's check: an actor filter or a to filter is not the whole chain, even without a gap", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    // the admin's own entries: the export's own `audit.export` only (one line)
    const mine = await exportOf(t, admin, "&actor=me");
    const one = splitExport(mine);
    assert.equal(one.entries.length, 1);
    assert.deepEqual(one.summary.export_summary.filters, { actor: admin.id });
    const r1 = await checkText(mine);
    assert.equal(r1.code, 0, r1.text);
    assert.match(r1.text, FILTERED);
    assert.doesNotMatch(r1.text, /whole chain checked/);

    // up to the fifth entry's time: seqs 1..5, no gap, still not the whole chain
    const first = splitExport(await exportOf(t, admin)).entries;
    const to = encodeURIComponent(first[4].at_iso);
    const upTo = await exportOf(t, admin, `&to=${to}`);
    const early = splitExport(upTo);
    assert.deepEqual(early.entries.map((e) => e.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(early.summary.export_summary.seq_range, { from: 1, to: 5 });
    assert.ok(early.summary.export_summary.head.seq > 5);
    const r2 = await checkText(upTo);
    assert.equal(r2.code, 0, r2.text);
    assert.match(r2.text, TIME_RANGE);
    assert.match(r2.text, /seqs 1-5, 5 entries, .* no gap; not the whole chain/);
    assert.doesNotMatch(r2.text, /whole chain checked/);

    // a line taken out of a filtered export: the summary's count says so
    const less = jsonLines(early.entries.slice(0, 4), early.summary);
    const r3 = await checkText(less);
    assert.notEqual(r3.code, 0, r3.text);
    assert.match(r3.text, /the summary says 5 entries; the file holds 4/);
  });
});

Deno.test("README's check: a download cut short fails, mid-line or before the summary", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    const text = await exportOf(t, admin);
    const midLine = text.slice(0, Math.floor(text.length * 0.6));
    assert.ok(!midLine.endsWith("\n"));
    const r1 = await checkText(midLine);
    assert.notEqual(r1.code, 0, r1.text);
    assert.match(r1.text, /cut short/);
    assert.doesNotMatch(r1.text, /Traceback/);

    const { entries } = splitExport(text);
    const r2 = await checkText(jsonLines(entries));
    assert.notEqual(r2.code, 0, r2.text);
    assert.match(r2.text, /no summary line at the end: the download was cut short/);
  });
});

Deno.test("README's check: an unfiltered export with an entry deleted from KV fails, naming the seqs", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    await t.kv.delete(keys.auditEntry(3));
    const text = await exportOf(t, admin);
    const { summary } = splitExport(text);
    const r = await checkText(text);
    assert.notEqual(r.code, 0, r.text);
    assert.match(r.text, /entries missing from the chain: seqs 3-3 /);
    assert.doesNotMatch(r.text, /^ok/m);

    // the newest entries deleted, the head left: the summary's head shows them missing
    const head = summary.export_summary.head.seq;
    const cut = splitExport(text).entries.filter((e) => e.seq < head - 1);
    const tail = jsonLines(cut, {
      export_summary: { ...summary.export_summary, entries: cut.length },
    });
    const r2 = await checkText(tail);
    assert.notEqual(r2.code, 0, r2.text);
    assert.match(r2.text, new RegExp(`seqs 3-3, ${head - 1}-${head} `));
  });
});

/** The cells of one RFC 4180 CSV row (quoted cells with `""` inside, no line breaks). */
function csvCells(row: string): string[] {
  const cells: string[] = [];
  let i = 0;
  while (i <= row.length) {
    if (row[i] === '"') {
      let cell = "";
      for (i++; i < row.length; i++) {
        if (row[i] === '"' && row[i + 1] === '"') (cell += '"', i++);
        else if (row[i] === '"') break;
        else cell += row[i];
      }
      cells.push(cell);
      i += 2; // the closing quote and the comma
    } else {
      const end = row.indexOf(",", i) === -1 ? row.length : row.indexOf(",", i);
      cells.push(row.slice(i, end));
      i = end + 1;
    }
  }
  return cells;
}

Deno.test("the CSV export ends with the same summary as the JSON Lines one, in its last row", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    const csv = await exportOf(t, admin, "&action=refund.create", "csv");
    const rows = csv.trimEnd().split("\r\n");
    const last = csvCells(rows.at(-1)!);
    assert.equal(last.length, CSV_COLUMNS.length);
    const cell = (name: string) => last[CSV_COLUMNS.indexOf(name as typeof CSV_COLUMNS[number])];
    assert.equal(cell("id"), "export_summary");
    assert.equal(cell("seq"), "");
    assert.equal(cell("hash"), "");
    const summary = JSON.parse(cell("after"));
    const jsonl = splitExport(await exportOf(t, admin, "&action=refund.create")).summary;
    const { format, exported_at: _a, ...rest } = summary;
    const { format: f2, exported_at: _b, ...restJsonl } = jsonl.export_summary;
    assert.equal(format, "csv");
    assert.equal(f2, "jsonl");
    // the second export adds its own audit.export entry: the head moved on, the matches did not
    const same = (x: typeof rest) => ({ ...x, head: null, seq_range: null });
    assert.deepEqual(same(rest), same(restJsonl));
    assert.deepEqual(rest.seq_range, { from: 1, to: rest.head.seq });
    assert.equal(restJsonl.head.seq, rest.head.seq + 1);
    assert.equal(summary.entries, 12);
    assert.equal(rows.length, 1 + 12 + 1, "header, entries, summary");
    assert.deepEqual(summary.filters, { action: "refund.create" });
  });
});

Deno.test("README's check: a time-range export missing an entry fails, naming the seqs", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    const all = splitExport(await exportOf(t, admin)).entries;
    const from = encodeURIComponent(all[3].at_iso); // seq 4 onwards
    await t.kv.delete(keys.auditEntry(7));
    const text = await exportOf(t, admin, `&from=${from}`);
    const { entries, summary } = splitExport(text);
    const s = summary.export_summary;
    assert.deepEqual(Object.keys(s.filters), ["from"]);
    assert.equal(s.seq_range!.from, 4);
    assert.ok(!entries.some((e) => e.seq === 7));
    const r = await checkText(text);
    assert.notEqual(r.code, 0, r.text);
    assert.match(r.text, /entries missing from the export's seq range 4-\d+: seqs 7-7 /);
    assert.doesNotMatch(r.text, /^ok/m);

    // from and to together, two entries gone side by side: still named
    await t.kv.delete(keys.auditEntry(8));
    const to = encodeURIComponent(all[9].at_iso);
    const r2 = await checkText(await exportOf(t, admin, `&from=${from}&to=${to}`));
    assert.notEqual(r2.code, 0, r2.text);
    assert.match(r2.text, /entries missing from the export's seq range 4-10: seqs 7-8 /);
  });
});

Deno.test("README's check: a whole time-range export checks every link, its seq range against its entries", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    const all = splitExport(await exportOf(t, admin)).entries;
    const from = encodeURIComponent(all[3].at_iso);
    const to = encodeURIComponent(all[9].at_iso);
    const text = await exportOf(t, admin, `&from=${from}&to=${to}`);
    const { entries, summary } = splitExport(text);
    assert.deepEqual(entries.map((e) => e.seq), [4, 5, 6, 7, 8, 9, 10]);
    const ok = await checkText(text);
    assert.equal(ok.code, 0, ok.text);
    assert.match(
      ok.text,
      /^ok: a time-range export \(.*\): seqs 4-10, 7 entries, every hash and every link between them checked, no gap; not the whole chain/m,
    );

    // the first or the last line taken out, the count mended: the seq range shows it
    const s = summary.export_summary;
    const noFirst = entries.slice(1);
    const r1 = await checkText(
      jsonLines(noFirst, { export_summary: { ...s, entries: noFirst.length } }),
    );
    assert.notEqual(r1.code, 0, r1.text);
    assert.match(r1.text, /entries missing from the export's seq range 4-10: seqs 4-4 /);
    const noLast = entries.slice(0, -1);
    const r2 = await checkText(
      jsonLines(noLast, { export_summary: { ...s, entries: noLast.length } }),
    );
    assert.notEqual(r2.code, 0, r2.text);
    assert.match(r2.text, /seqs 10-10 /);

    // an entry outside the summary's seq range (any filters): the summary is not this file's
    const r3 = await checkText(
      jsonLines(entries, { export_summary: { ...s, seq_range: { from: 5, to: 10 } } }),
    );
    assert.notEqual(r3.code, 0, r3.text);
    assert.match(r3.text, /seq 4 is outside the summary's seq range 5-10/);
    const actorOnly = { ...s, filters: { actor: admin.id }, seq_range: { from: 1, to: 9 } };
    const r4 = await checkText(jsonLines(entries, { export_summary: actorOnly }));
    assert.notEqual(r4.code, 0, r4.text);
    assert.match(r4.text, /seq 10 is outside the summary's seq range 1-9/);
  });
});

Deno.test("README's check: an unfiltered export's seq range must run from 1 to the head", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    const text = await exportOf(t, admin);
    const { entries, summary } = splitExport(text);
    const s = summary.export_summary;
    const r = await checkText(
      jsonLines(entries, { export_summary: { ...s, seq_range: { from: 1, to: s.head.seq - 1 } } }),
    );
    assert.notEqual(r.code, 0, r.text);
    assert.match(r.text, new RegExp(`seq ${s.head.seq} is outside the summary's seq range`));
  });
});

Deno.test("README's check: given the CSV export, it says it takes the JSON Lines one", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    const r = await checkText(await exportOf(t, admin, "", "csv"));
    assert.notEqual(r.code, 0, r.text);
    assert.match(r.text, /CSV export.*format=jsonl/);
    assert.doesNotMatch(r.text, /cut short/);
  });
});

Deno.test("README's check: blank lines after the summary are no more content", async () => {
  await withTestApp(async (t) => {
    const admin = await chain(t);
    const text = await exportOf(t, admin);
    for (const tail of ["\n", "\r\n", "\n  \n\t\n", "   "]) {
      const r = await checkText(text + tail);
      assert.equal(r.code, 0, `${JSON.stringify(tail)}: ${r.text}`);
      assert.match(r.text, WHOLE);
    }
    // anything else after it still fails
    const r2 = await checkText(text + "\n" + text.split("\n")[0] + "\n");
    assert.notEqual(r2.code, 0, r2.text);
    assert.match(r2.text, /more after the export's summary line/);
  });
});
