/**
 * The `deno task admin` lines demo mode prints (README, Quick start): each
 * names the server's KV_PATH, quoted for a POSIX shell when it needs it, so a
 * pasted line reaches the server's store; on `KV_PATH=:memory:`, which no CLI
 * reaches, it prints none (an account made by the CLI there would be in the
 * CLI's own throwaway store, and its token 401 at the server).
 */
import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import { createLogger } from "../core/log.ts";
import { adminCommand, credentialsBox, existingAdminNote } from "../cli/demo_notes.ts";
import { tellExisting } from "../cli/demo_credentials.ts";
import { StatusLine } from "../cli/status_line.ts";

/** How the printed lines run a task: with the Deno that runs this (README, Quick start). */
const TASK = `npx --yes deno@${Deno.version.deno} task`;

const DEMO = "demo@example.com";
const creds = {
  admin: { id: "adm_demo", email: DEMO },
  token: "pot_x",
  totp_secret: "S",
  otpauth_uri: "otpauth://x",
  recovery_codes: ["r1"],
};

/** What a POSIX shell makes of the `KV_PATH=…` before the admin command in `line`. */
async function kvPathAsTheShellReadsIt(line: string): Promise<string> {
  const at = line.indexOf(` ${TASK} admin`);
  assert.ok(at > 0, line);
  const out = await new Deno.Command("sh", {
    args: ["-c", `${line.slice(0, at)} printenv KV_PATH`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).replace(/\n$/, "");
}

Deno.test("KV_PATH in the printed lines: plain paths and URLs as they are; anything else in single quotes, ' included", () => {
  const value = (path: string) =>
    new RegExp(`^KV_PATH=(.*) ${TASK} admin$`).exec(adminCommand(path) ?? "")![1];
  for (
    const plain of ["./kv/other.sqlite3", "/srv/payops/kv.sqlite3", "https://kv.example.com/db"]
  ) {
    assert.equal(value(plain), plain);
  }
  assert.equal(value("./sp ace/kv.sqlite3"), "'./sp ace/kv.sqlite3'");
  assert.equal(value("/tmp/it's/kv"), `'/tmp/it'\\''s/kv'`);
  assert.equal(value("$HOME/kv;rm"), "'$HOME/kv;rm'");
  assert.equal(value("~/kv.sqlite3"), "'~/kv.sqlite3'");
});

Deno.test("a KV_PATH with a space, a quote or a $ survives pasting the printed line into a shell", async () => {
  for (const path of ["./sp ace/kv.sqlite3", "/tmp/it's here/kv.sqlite3", "/tmp/$x `y`/kv"]) {
    const box = credentialsBox(creds, 8000, path);
    const line = box.split("\n").find((l) => l.includes(`${TASK} admin create`))!;
    assert.equal(await kvPathAsTheShellReadsIt(line.replace(/^\W*/, "")), path);
    const note = existingAdminNote([{ id: "adm_demo", email: DEMO }], 8000, path);
    const rotate = note.split("\n").find((l) => l.includes("rotate-token"))!.trim();
    assert.equal(await kvPathAsTheShellReadsIt(rotate), path);
  }
  // a plain path stays as it was
  assert.equal(adminCommand("/tmp/kv.sqlite3"), `KV_PATH=/tmp/kv.sqlite3 ${TASK} admin`);
});

Deno.test("the restart log line's rotate_command is quoted too (JSON logs)", async () => {
  const path = "/tmp/sp ace/kv.sqlite3";
  const config = parseConfig({
    AUDIT_SIGNING_KEY: "k".repeat(40),
    KV_PATH: path,
    LOG_FORMAT: "json",
  });
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l), {}, "json");
  const screen = new StatusLine({ terminal: false, write: () => {} });
  tellExisting({ config, log, screen, place: { kind: "cli" } }, [{ id: "adm_demo", email: DEMO }]);
  const line = JSON.parse(lines[0]);
  assert.equal(
    line.rotate_command,
    `KV_PATH='/tmp/sp ace/kv.sqlite3' ${TASK} admin rotate-token --id adm_demo`,
  );
  assert.equal(await kvPathAsTheShellReadsIt(line.reset_2fa_command), path);
});

Deno.test("on KV_PATH=:memory: the box and the restart note print no CLI line, and say the API reaches it", () => {
  for (
    const text of [
      credentialsBox(creds, 8000, ":memory:"),
      existingAdminNote([{ id: "adm_demo", email: DEMO }], 8000, ":memory:"),
      existingAdminNote([{ id: "adm_first", email: "first@example.com" }], 8000, ":memory:"),
    ]
  ) {
    assert.doesNotMatch(text, /task admin (create|list|rotate-token|reset-2fa)/, text);
    assert.doesNotMatch(text, /KV_PATH=:memory: deno/, text);
    assert.match(text, /in-memory store/, text);
    assert.match(text, /API/, text);
  }
  // the rest of the box is there still
  const box = credentialsBox(creds, 8000, ":memory:");
  assert.match(box, /token +pot_x/);
  assert.match(box, /refunds\/rfd_\.\.\.\/approve/);
});
