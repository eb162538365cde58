import assert from "node:assert/strict";
import { createTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin } from "./helpers/identity.ts";

const PATH = "/api/admin/payments/transactions";

Deno.test("API_RATE_LIMIT_PER_MIN sets the per-token throttle: 3 pass, the 4th is 429", async () => {
  const t = await createTestApp({ env: { API_RATE_LIMIT_PER_MIN: "3" } });
  try {
    const viewer = await createAdmin(t, "viewer");
    for (let i = 0; i < 3; i++) {
      const ok = await t.app.request(PATH, { headers: authHeaders(viewer) });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
    }
    const refused = await t.app.request(PATH, { headers: authHeaders(viewer) });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    await refused.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("API_RATE_LIMIT_PER_MIN lifted (as the bench does) lets one token past the default 120", async () => {
  const t = await createTestApp({ env: { API_RATE_LIMIT_PER_MIN: "1000000000" } });
  try {
    const viewer = await createAdmin(t, "viewer");
    for (let i = 0; i < 200; i++) {
      const res = await t.app.request(PATH, { headers: authHeaders(viewer) });
      assert.equal(res.status, 200, `request ${i + 1}`);
      await res.body?.cancel();
    }
  } finally {
    await t.close();
  }
});
