/**
 * README "A first session, in curl", as a person copies it: each code works
 * once (Second factor), so no one sends one code twice in it (a run of
 * operations rides on the step-up token); a curl that writes a file fails
 * visibly on an error answer; and the Python script that checks a JSON Lines
 * export says so when the file holds a problem document instead of entries,
 * rather than dying on a KeyError.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { createAdmin, currentOtp, otpHeaders } from "./helpers/identity.ts";

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

Deno.test("README's chain check: ok on an export, the problem printed (no KeyError) on a refusal", async () => {
  const script = /python3 - audit\.jsonl <<'PY'\n([\s\S]*?)\nPY\n/.exec(SECTION)![1];
  const check = async (file: string) => {
    const out = await new Deno.Command("python3", {
      args: ["-", file],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = out.stdin.getWriter();
    await w.write(new TextEncoder().encode(script));
    await w.close();
    const r = await out.output();
    const d = new TextDecoder();
    return { code: r.code, text: d.decode(r.stdout) + d.decode(r.stderr) };
  };
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
    assert.match(ok.text, /^ok: last seq \d+ hash [0-9a-f]{64}$/m);
    const refused = await check(`${dir}/refused.jsonl`);
    assert.notEqual(refused.code, 0, refused.text);
    assert.doesNotMatch(refused.text, /KeyError|Traceback/, refused.text);
    assert.match(refused.text, /otp_replayed/);
    assert.match(refused.text, /not an audit entry|no entries/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
