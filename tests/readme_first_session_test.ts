/**
 * README "A first session, in curl", as a person copies it: each code works
 * once (Second factor), so no one sends one code twice in it (a run of
 * operations rides on the step-up token); a curl that writes a file fails
 * visibly on an error answer; and the Python script that checks a JSON Lines
 * export says so when the file holds a problem document instead of entries,
 * rather than dying on a KeyError; on a filtered export it checks each
 * entry's hash and the links between consecutive seqs, and says the gaps.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { adminContext, createAdmin, currentOtp, otpHeaders, sendJson } from "./helpers/identity.ts";
import { entryHash } from "../services/audit/entry.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";
import { jsonLines, runReadmeCheck, splitExport } from "./helpers/readme_export_check.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const SECTION = README.slice(
  README.indexOf("## A first session, in curl"),
  README.indexOf("\n## Commands"),
);

/** The section's shell commands, continuation lines joined, comments dropped. */
function commands(): string[] {
  const blocks = [...SECTION.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const shell = blocks.map((b) => b.replace(/<<'PY'\n[\s\S]*?\nPY\n/g, "<<'PY'\n")).join("\n");
  return shell.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter((l) => l.startsWith("curl"));
}

Deno.test("README first session: each person spends one code; the rest rides on the step-up token", () => {
  const spent = new Map<string, string[]>();
  for (const c of commands()) {
    const who = /Bearer \$TOKEN2/.test(c) ? "TOKEN2" : "TOKEN";
    if (/X-OTP-Code|\/api\/admin\/step-up/.test(c)) spent.set(who, [...spent.get(who) ?? [], c]);
  }
  for (const [who, uses] of spent) {
    assert.equal(
      uses.length,
      1,
      `${who} sends a one-time code ${uses.length} times:\n${uses.join("\n")}`,
    );
  }
  const exports = commands().filter((c) => c.includes("/audit-log/export"));
  assert.equal(exports.length, 2);
  for (const c of exports) assert.match(c, /-H "X-Step-Up: \$STEP_UP"/, c);
});

Deno.test("README first session: a curl that writes a file fails visibly on an error answer", () => {
  const toFile = commands().filter((c) => /\s-o\s/.test(c));
  assert.ok(toFile.length >= 2);
  for (const c of toFile) assert.match(c, /--fail-with-body\b/, c);
});

const check = runReadmeCheck;

Deno.test("README's chain check: ok on an export, the problem printed (no KeyError) on a refusal", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withTestApp(async (t) => {
      const admin = await createAdmin(t, "admin");
      const url = "/api/admin/payments/audit-log/export?format=jsonl";
      const headers = otpHeaders(t, admin);
      const first = await t.app.request(url, { headers });
      assert.equal(first.status, 200);
      await Deno.writeTextFile(`${dir}/audit.jsonl`, await first.text());
      // the same code again within its step: what a second copied export gets
      assert.equal(headers["x-otp-code"], currentOtp(admin.totpSecret, t.clock));
      const again = await t.app.request(url, { headers });
      assert.equal(again.status, 401);
      await Deno.writeTextFile(`${dir}/refused.jsonl`, await again.text());
    });
    const ok = await check(`${dir}/audit.jsonl`);
    assert.equal(ok.code, 0, ok.text);
    assert.match(
      ok.text,
      /^ok: last seq \d+ hash [0-9a-f]{64}; \d+ entries, the whole chain checked$/m,
    );
    const refused = await check(`${dir}/refused.jsonl`);
    assert.notEqual(refused.code, 0, refused.text);
    assert.doesNotMatch(refused.text, /KeyError|Traceback/, refused.text);
    assert.match(refused.text, /otp_replayed/);
    assert.match(refused.text, /not an audit entry|no entries/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Numbers JavaScript's JSON.stringify writes otherwise than Python's json.dumps
 * (README "A first session, in curl": the number encoding).
 */
const NUMBERS = {
  tiny: 5e-7,
  small: 1e-5,
  tenth: 0.1,
  big: 1e21,
  wide: 123456789012345680000,
  e16: 1e16,
  negatives: [-0.5, -1.25e-8, -0.000123],
  third: 1 / 3,
  whole: 42,
  minus_zero: -0,
};

Deno.test("README's chain check: numbers as JavaScript writes them (5e-7, 1e21), keys in UTF-16 order and a lone surrogate pass; an altered entry fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withTestApp(async (t) => {
      const admin = await createAdmin(t, "admin");
      // a rule level only a person types: the export holds "watch_at":5e-7
      const rule = await sendJson(
        t,
        "PUT",
        "/api/admin/payments/fraud/rules/amount_anomaly",
        otpHeaders(t, admin),
        { watch_at: 0.0000005 },
      );
      assert.equal(rule.status, 200, JSON.stringify(rule.body));
      await t.services.audit.record(adminContext(admin), {
        action: "test.numbers",
        target: null,
        result: "ok",
        after: { ...NUMBERS, keys: { "\u{1F600}": 1, "\uFF01": 2 } },
        // JavaScript sorts 😀 (D83D DE00) before ！ (FF01), by UTF-16 code units; and a lone
        // surrogate a person typed is stored and escaped as \ud800
        reason: "typed \ud800 alone",
      });
      const res = await t.app.request(
        "/api/admin/payments/audit-log/export?format=jsonl",
        { headers: otpHeaders(t, admin) },
      );
      assert.equal(res.status, 200);
      const text = await res.text();
      for (const n of ["5e-7", "0.00001", "0.1", "1e+21", "123456789012345680000", "-1.25e-8"]) {
        assert.ok(text.includes(n), `the export holds ${n}`);
      }
      await Deno.writeTextFile(`${dir}/audit.jsonl`, text);
      // the same export with one number changed, its hashes left as they were
      await Deno.writeTextFile(`${dir}/altered.jsonl`, text.replace(":5e-7", ":6e-7"));
    });
    const ok = await check(`${dir}/audit.jsonl`);
    assert.equal(ok.code, 0, ok.text);
    assert.match(
      ok.text,
      /^ok: last seq \d+ hash [0-9a-f]{64}; \d+ entries, the whole chain checked$/m,
    );
    const altered = await check(`${dir}/altered.jsonl`);
    assert.notEqual(altered.code, 0, altered.text);
    assert.match(altered.text, /hash_mismatch/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README's chain check: a filtered export passes, its gaps said; an altered entry or a forged one between consecutive seqs fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let entries: AuditEntry[] = [];
    let summary: ReturnType<typeof splitExport>["summary"] | undefined;
    await withTestApp(async (t) => {
      const admin = await createAdmin(t, "admin");
      // kept, kept, other, kept: the filter leaves a gap before the first and one after the second
      for (const action of ["refund.create", "refund.create", "refund.reject", "refund.create"]) {
        await t.services.audit.record(adminContext(admin), {
          action,
          target: { type: "refund", id: "rfd_1" },
          result: "ok",
        });
      }
      const res = await t.app.request(
        "/api/admin/payments/audit-log/export?format=jsonl&action=refund.create",
        { headers: otpHeaders(t, admin) },
      );
      assert.equal(res.status, 200);
      ({ entries, summary } = splitExport(await res.text()));
    });
    assert.equal(entries.length, 3);
    assert.equal(entries[1].seq, entries[0].seq + 1);
    assert.ok(entries[2].seq > entries[1].seq + 1);
    await Deno.writeTextFile(`${dir}/filtered.jsonl`, jsonLines(entries, summary));
    const ok = await check(`${dir}/filtered.jsonl`);
    assert.equal(ok.code, 0, ok.text);
    assert.match(
      ok.text,
      /^ok: a filtered export \(\{"action": "refund\.create"\}\): 3 entries, each entry's hash checked; 2 gaps, links checked between consecutive seqs only; not the whole chain \(its head then: seq \d+\)$/m,
    );

    // an entry changed, its hash left as it was
    const altered = entries.map((e, i) => i === 2 ? { ...e, result: "denied" } : e);
    await Deno.writeTextFile(`${dir}/altered.jsonl`, jsonLines(altered as AuditEntry[], summary));
    const bad = await check(`${dir}/altered.jsonl`);
    assert.notEqual(bad.code, 0, bad.text);
    assert.match(bad.text, new RegExp(`seq ${entries[2].seq}: hash_mismatch`));

    // an entry changed and its hash recomputed: its own hash holds, the next seq's link does not
    const changed = { ...entries[0], result: "denied" } as AuditEntry;
    const forged = [{ ...changed, hash: await entryHash(changed) }, ...entries.slice(1)];
    await Deno.writeTextFile(`${dir}/forged.jsonl`, jsonLines(forged, summary));
    const broken = await check(`${dir}/forged.jsonl`);
    assert.notEqual(broken.code, 0, broken.text);
    assert.match(broken.text, new RegExp(`seq ${entries[1].seq}: prev_hash_mismatch`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
