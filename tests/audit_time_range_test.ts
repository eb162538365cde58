/**
 * `from` later than `to` on the audit log is a 422 naming `query.to`, as on the transactions
 * listing, not an empty page an auditor reads as "nothing happened then"; on the export it is
 * refused before the second factor is spent and before anything is audited.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders } from "./helpers/identity.ts";

const BASE = "/api/admin/payments/audit-log";
const SWAPPED = "from=2026-01-31T00:00:00Z&to=2026-01-01T00:00:00Z";

type Problem = { code: string; errors: { path: string; message: string }[] };

Deno.test("audit log: from after to is 422 on query.to, list and export alike", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    const list = await t.app.request(`${BASE}?${SWAPPED}`, { headers: authHeaders(auditor) });
    assert.equal(list.status, 422);
    const body = await list.json() as Problem;
    assert.equal(body.code, "validation_failed");
    assert.deepEqual(body.errors.map((e) => e.path), ["query.to"]);
    assert.match(body.errors[0].message, /to must be at or after from/);

    const before = (await t.services.audit.list({ limit: 100 })).data.length;
    const headers = otpHeaders(t, auditor);
    const exp = await t.app.request(`${BASE}/export?format=csv&${SWAPPED}`, { headers });
    assert.equal(exp.status, 422);
    assert.deepEqual((await exp.json() as Problem).errors.map((e) => e.path), ["query.to"]);
    // nothing exported, nothing recorded, and the code was not spent
    assert.equal((await t.services.audit.list({ limit: 100 })).data.length, before);
    const again = await t.app.request(`${BASE}/export?format=csv`, { headers });
    assert.equal(again.status, 200);
    await again.body?.cancel();

    // the same instant at both ends is a valid, inclusive range
    const same = await t.app.request(
      `${BASE}?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`,
      { headers: authHeaders(auditor) },
    );
    assert.equal(same.status, 200);
    await same.body?.cancel();
  });
});
