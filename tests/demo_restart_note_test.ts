/**
 * The note a restart in demo mode prints (README, Quick start): it names the
 * demo admin and how to get it a new token; on a store whose admins were made
 * with the CLI it does not call one of them "the demo admin" nor suggest
 * revoking that person's working token.
 */
import assert from "node:assert/strict";
import { credentialsBox, existingAdminNote } from "../cli/demo_notes.ts";

/** How the printed lines run a task: with the Deno that runs this (README, Quick start). */
const TASK = `npx --yes deno@${Deno.version.deno} task`;

Deno.test("restart note: the demo admin gets the rotate-token command for its id", () => {
  const note = existingAdminNote(
    [{ id: "adm_other", email: "x@example.com" }, { id: "adm_demo", email: DEMO }],
    8000,
    "/tmp/kv.sqlite3",
  );
  assert.match(note, /The demo admin exists already \(demo@example\.com\)/);
  assert.ok(
    note.includes(`KV_PATH=/tmp/kv.sqlite3 ${TASK} admin rotate-token --id adm_demo`),
    note,
  );
});

Deno.test("restart note: admins made with the CLI are not 'the demo admin' and no token of theirs is to be rotated", () => {
  const note = existingAdminNote(
    [{ id: "adm_first", email: "first@example.com" }],
    8000,
    undefined,
  );
  assert.doesNotMatch(note, /demo admin exists|rotate-token/);
  assert.match(note, /made with `deno task admin`, not by the\s+demo/);
  assert.ok(note.includes(`${TASK} admin list`), note);
});

const DEMO = "demo@example.com";

Deno.test("the box's try-next lines approve a refund as the README does: by the approval.hash read", () => {
  const note = existingAdminNote([{ id: "adm_demo", email: DEMO }], 8000, undefined);
  assert.match(note, /curl -s http:\/\/localhost:8000\/api\/admin\/payments\/refunds\/rfd_\.\.\. /);
  assert.match(note, /refunds\/rfd_\.\.\.\/approve/);
  assert.match(note, /-d '\{"approval_hash":"<its approval\.hash>"\}'/);
});

Deno.test("every CLI line the demo prints names the server's KV_PATH when it is not the default", () => {
  const creds = {
    admin: { id: "adm_demo", email: DEMO },
    token: "pot_x",
    totp_secret: "S",
    otpauth_uri: "otpauth://x",
    recovery_codes: ["r1"],
  };
  for (
    const text of [
      existingAdminNote([{ id: "adm_demo", email: DEMO }], 8000, "/tmp/kv.sqlite3"),
      credentialsBox(creds, 8000, "/tmp/kv.sqlite3"),
    ]
  ) {
    // the second operator's account lands in the server's store, so its token works
    assert.ok(
      text.includes(
        `KV_PATH=/tmp/kv.sqlite3 ${TASK} admin create --email second@example.com --role operator`,
      ),
      text,
    );
    const commands = text.split(`${TASK} admin `).length - 1;
    assert.equal(text.split(`KV_PATH=/tmp/kv.sqlite3 ${TASK} admin `).length - 1, commands, text);
    assert.doesNotMatch(text, /(^|[^@\d.])deno task admin [a-z]/m, "every command runs this Deno");
  }
  // with the default store the lines stay short
  const plain = credentialsBox(creds, 8000, undefined);
  assert.ok(plain.includes(`    ${TASK} admin create --email second@example.com --role operator`));
  assert.doesNotMatch(plain, /KV_PATH=/);
});

Deno.test("restart note: the 1,200.00 refund is offered only if not refunded yet; the first box as is", () => {
  // an earlier session may have refunded it: the restart's box says so
  const note = existingAdminNote([{ id: "adm_demo", email: DEMO }], 8000, undefined);
  assert.match(note, /1,200\.00 payment \(if not refunded yet\) waits \(202\)/);
  const box = credentialsBox(
    {
      admin: { id: "adm_demo", email: DEMO },
      token: "pot_x",
      totp_secret: "S",
      otpauth_uri: "otpauth://x",
      recovery_codes: ["r"],
    },
    8000,
    undefined,
  );
  assert.match(box, /1,200\.00 payment waits \(202\) for another operator or admin/);
});
