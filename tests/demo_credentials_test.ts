/**
 * Where demo mode puts the demo admin's credentials (README, Quick start):
 * printed with pretty logs; with JSON logs never into the log stream: a file
 * only its user reads next to the KV file, standard error on a terminal, or a
 * log line naming the admin CLI command (KV_PATH included) to get a token;
 * `:memory:` with nowhere to show them refuses to start.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import { createLogger } from "../core/log.ts";
import { credentialsPlace, tellCredentials } from "../cli/demo_credentials.ts";
import { StatusLine } from "../cli/status_line.ts";

/** How the printed lines run a task: with the Deno that runs this (README, Quick start). */
const TASK = `npx --yes deno@${Deno.version.deno} task`;

const creds = {
  admin: { id: "adm_demo", email: "demo@example.com" },
  token: `pot_${"t".repeat(40)}`,
  totp_secret: "JBSWY3DPEHPK3PXPJBSWY3DP",
  otpauth_uri: "otpauth://totp/payops:demo?secret=JBSWY3DPEHPK3PXPJBSWY3DP",
  recovery_codes: ["rc-one-1234", "rc-two-5678"],
};

function world(env: Record<string, string>) {
  const config = parseConfig({ AUDIT_SIGNING_KEY: "k".repeat(40), ...env });
  const lines: string[] = [];
  const screenText: string[] = [];
  const log = createLogger("info", (l) => lines.push(l), {}, config.logFormat);
  const screen = new StatusLine({ terminal: false, write: (t) => screenText.push(t) });
  return { config, lines, screenText, log, screen };
}

Deno.test("credentialsPlace: pretty prints; JSON: a file by a local store, stderr on a terminal, else the CLI or a refusal", () => {
  const place = (env: Record<string, string>, tty = false) =>
    credentialsPlace(world(env).config, tty);
  assert.deepEqual(place({ LOG_FORMAT: "pretty", KV_PATH: ":memory:" }), { kind: "screen" });
  assert.deepEqual(place({ LOG_FORMAT: "json", KV_PATH: "/srv/payops/kv.sqlite3" }), {
    kind: "file",
    path: "/srv/payops/demo-admin-credentials.txt",
  });
  assert.deepEqual(place({ LOG_FORMAT: "json", KV_PATH: ":memory:" }, true), { kind: "stderr" });
  const refused = place({ LOG_FORMAT: "json", KV_PATH: ":memory:" });
  assert.equal(refused.kind, "refuse");
  assert.match((refused as { message: string }).message, /KV_PATH.*LOG_FORMAT=pretty/s);
  assert.deepEqual(place({ LOG_FORMAT: "json", KV_PATH: "https://kv.example.com/db" }), {
    kind: "cli",
  });
});

Deno.test("JSON logs: the credentials land in a 0600 file; the log line names it and holds no secret", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = world({ LOG_FORMAT: "json", KV_PATH: `${dir}/kv.sqlite3` });
    // a file left by an earlier store is replaced, not appended to
    await Deno.writeTextFile(`${dir}/demo-admin-credentials.txt`, "old", { mode: 0o644 });
    const place = credentialsPlace(w.config, false);
    await tellCredentials({ ...w, place }, creds);
    const file = await Deno.readTextFile(`${dir}/demo-admin-credentials.txt`);
    assert.match(file, new RegExp(`token +${creds.token}`));
    assert.match(file, /recovery +rc-one-1234/);
    assert.ok(file.includes(`KV_PATH=${dir}/kv.sqlite3 ${TASK} admin create`), file);
    assert.doesNotMatch(file, /^old/);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${dir}/demo-admin-credentials.txt`)).mode! & 0o777, 0o600);
    }
    assert.equal(w.screenText.length, 0, "nothing but log lines on stdout");
    assert.equal(w.lines.length, 1);
    const line = JSON.parse(w.lines[0]);
    assert.equal(line.file, `${dir}/demo-admin-credentials.txt`);
    assert.match(line.msg, /read it, then delete it/);
    for (const secret of [creds.token, creds.totp_secret, "rc-one-1234"]) {
      assert.ok(!w.lines[0].includes(secret), secret);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JSON logs on KV Connect: no secret anywhere, a log line with the CLI command on that store", async () => {
  const w = world({ LOG_FORMAT: "json", KV_PATH: "https://kv.example.com/db" });
  await tellCredentials({ ...w, place: credentialsPlace(w.config, false) }, creds);
  assert.equal(w.lines.length, 1);
  const line = JSON.parse(w.lines[0]);
  assert.equal(
    line.rotate_command,
    `KV_PATH=https://kv.example.com/db ${TASK} admin rotate-token --id adm_demo`,
  );
  assert.ok(!w.lines[0].includes(creds.token));
});

Deno.test("pretty logs: the box is printed as before", async () => {
  const w = world({ LOG_FORMAT: "pretty", KV_PATH: ":memory:" });
  await tellCredentials({ ...w, place: credentialsPlace(w.config, false) }, creds);
  assert.match(w.screenText.join(""), new RegExp(`token +${creds.token}`));
  assert.equal(w.lines.length, 0);
});
