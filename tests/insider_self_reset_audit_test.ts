/**
 * Asking to rotate one's own token or reset one's own second factor through
 * the two-person route is refused (403), and the refusal is an audit entry
 * with `result: denied`, as every refused attempt is (README, "Two-person
 * rules"): an admin probing the controls leaves a trace.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { auditEntries, createAdmin, sendJson, stepUpHeaders } from "./helpers/identity.ts";

for (
  const [path, action] of [["reset-2fa", "totp.reset"], ["rotate-token", "token.rotate"]] as const
) {
  Deno.test(`asking for your own ${path} through /users/{id}/${path} is refused and audited denied`, async () => {
    await withTestApp(async (t) => {
      const a = await createAdmin(t, "admin");
      const headers = await stepUpHeaders(t, a);
      const res = await sendJson(t, "POST", `/api/admin/users/${a.id}/${path}`, headers);
      assert.equal(res.status, 403, JSON.stringify(res.body));
      const denied = (await auditEntries(t.kv)).filter((e) =>
        e.action === action && e.result === "denied"
      );
      assert.equal(denied.length, 1, "one denied entry");
      assert.equal(denied[0].actor.id, a.id);
      assert.deepEqual(denied[0].target, { type: "admin", id: a.id });
      assert.match(String(denied[0].reason), /self/);
    });
  });
}
