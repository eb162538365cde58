/**
 * Disabling an admin who issued many enrollment codes and asked for many
 * two-person requests still lands in one commit within KV's limits (README,
 * "Accounts and enrollment"): what the disabling commit does not reach is
 * refused when redeemed or decided.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { createAdmin, patchUser } from "./helpers/identity.ts";
import { keys } from "../kv/keys.ts";
import type { Enrollment } from "../kv/enrollments.ts";

Deno.test("PATCH /users/{id} disables an admin holding 150 open enrollment codes in one commit, revoking what fits", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    await createAdmin(t, "admin"); // a bystander: b may disable a alone
    const now = t.clock.now();
    for (let start = 0; start < 150; start += 50) {
      const op = t.kv.atomic();
      for (let i = start; i < start + 50; i++) {
        const e: Enrollment = {
          code_hash: `hash${String(i).padStart(4, "0")}`,
          purpose: "account",
          admin_id: null,
          approval_id: null,
          issued_by: a.id,
          issued_at: new Date(now).toISOString(),
          expires_at: new Date(now + 3600_000).toISOString(),
          used_at: null,
          used_from: null,
        };
        op.set(keys.enrollment(e.code_hash), e);
      }
      assert.ok((await op.commit()).ok);
    }
    const res = await patchUser(t, b, a.id, { status: "disabled" });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.admin.status, "disabled");
    const revoked = [];
    for await (const e of t.kv.list<Enrollment>({ prefix: keys.enrollmentsPrefix() })) {
      if (e.value.revoked_reason) revoked.push(e.key);
    }
    assert.equal(revoked.length, 40, "the codes that fit are revoked in the disabling commit");
  });
});
