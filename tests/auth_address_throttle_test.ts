/**
 * The per-address failed-authentication throttle (README, "Inputs and
 * headers"): past 30 failures a minute an address gets 429 for everything
 * until the minute ends, a right token or code included, on admin routes,
 * POST /api/admin/enroll and GET /metrics; /metrics also counts its failures
 * and throttles an admin's token like any admin request.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, jsonRequest, otpHeaders } from "./helpers/identity.ts";

const METRICS_TOKEN = "scrape-token-0123456789";
const WRONG_POT = `Bearer pot_${"x".repeat(43)}`;

function from(ip: string) {
  return { remoteAddr: { hostname: ip } };
}

async function status(res: Response): Promise<number> {
  await res.body?.cancel();
  return res.status;
}

/** `n` failed authentications from `ip` on an admin route. */
async function fail(t: TestApp, ip: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await status(
        await t.app.request("/api/admin/me", { headers: { authorization: WRONG_POT } }, from(ip)),
      ),
    );
  }
  return out;
}

Deno.test("attack: wrong bearer tokens on /metrics count per address: 429 past 30 a minute", async () => {
  await withTestApp(async (t) => {
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) {
      const guess = i % 2 === 0 ? `Bearer scrape-guess-${i}-0123456789` : WRONG_POT;
      statuses.push(
        await status(
          await t.app.request(
            "/metrics",
            { headers: { authorization: guess } },
            from("192.0.2.20"),
          ),
        ),
      );
    }
    assert.equal(statuses.filter((s) => s === 401).length, 30, statuses.join(","));
    assert.equal(statuses.filter((s) => s === 429).length, 15, statuses.join(","));
    // the right METRICS_TOKEN from that address waits too; another address is unaffected
    const right = { headers: { authorization: `Bearer ${METRICS_TOKEN}` } };
    assert.equal(await status(await t.app.request("/metrics", right, from("192.0.2.20"))), 429);
    assert.equal(await status(await t.app.request("/metrics", right, from("192.0.2.21"))), 200);
  }, { env: { METRICS_TOKEN } });
});

Deno.test("attack: /metrics failures and admin-route failures share the address's count", async () => {
  await withTestApp(async (t) => {
    assert.deepEqual(new Set(await fail(t, "192.0.2.22", 30)), new Set([401]));
    const res = await t.app.request("/metrics", {
      headers: { authorization: "Bearer not-the-metrics-token-0123" },
    }, from("192.0.2.22"));
    assert.equal(await status(res), 429);
  }, { env: { METRICS_TOKEN } });
});

Deno.test("attack: an admin's token scraping /metrics is throttled like any admin request", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) {
      statuses.push(await status(await t.app.request("/metrics", { headers: authHeaders(admin) })));
    }
    assert.equal(statuses.filter((s) => s === 200).length, 30, statuses.join(","));
    assert.equal(statuses.at(-1), 429);
    // and the scrapes spent the token's budget for the API too
    assert.equal(
      await status(await t.app.request("/api/admin/me", { headers: authHeaders(admin) })),
      429,
    );
  }, { env: { METRICS_TOKEN, API_RATE_LIMIT_PER_MIN: "30" } });
});

Deno.test("attack: after 30 failures a right token from the same address is 429 with Retry-After until the minute ends", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    // the clock at the start of a minute: the window has 60 s left
    t.clock.set(Math.ceil(t.clock.now() / 60_000) * 60_000);
    const statuses = await fail(t, "192.0.2.30", 31);
    assert.equal(statuses.filter((s) => s === 401).length, 30);
    assert.equal(statuses.at(-1), 429);
    const right = await t.app.request("/api/admin/me", { headers: authHeaders(admin) }, {
      ...from("192.0.2.30"),
    });
    assert.equal(right.status, 429, "a right token from a throttled address");
    assert.equal((await right.json()).code, "rate_limited");
    assert.ok(Number(right.headers.get("retry-after")) >= 1);
    // another address is unaffected; the next minute the address may try again
    const other = await t.app.request("/api/admin/me", { headers: authHeaders(admin) }, {
      ...from("192.0.2.31"),
    });
    assert.equal(await status(other), 200);
    t.clock.advance(60_000);
    const later = await t.app.request("/api/admin/me", { headers: authHeaders(admin) }, {
      ...from("192.0.2.30"),
    });
    assert.equal(await status(later), 200);
  });
});

Deno.test("attack: 30 failures then a right token is still served (past 30 means the 31st)", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    t.clock.set(Math.ceil(t.clock.now() / 60_000) * 60_000);
    await fail(t, "192.0.2.32", 30);
    const right = await t.app.request("/api/admin/me", { headers: authHeaders(admin) }, {
      ...from("192.0.2.32"),
    });
    assert.equal(await status(right), 200);
  });
});

Deno.test("attack: after 30 failures a valid enrollment code from the same address is 429 and stays unspent", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    t.clock.set(Math.ceil(t.clock.now() / 60_000) * 60_000 + 1_000);
    const created = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", otpHeaders(t, admin), { email: "new@example.com", role: "viewer" }),
    );
    assert.equal(created.status, 201);
    const code = (await created.json()).enrollment_code as string;
    await fail(t, "192.0.2.40", 31);
    const enroll = await t.app.request(
      "/api/admin/enroll",
      jsonRequest("POST", {}, { code }),
      from("192.0.2.40"),
    );
    assert.equal(enroll.status, 429);
    assert.ok(Number(enroll.headers.get("retry-after")) >= 1);
    await enroll.body?.cancel();
    // the code was not spent: it works from elsewhere
    const elsewhere = await t.app.request(
      "/api/admin/enroll",
      jsonRequest("POST", {}, { code }),
      from("192.0.2.41"),
    );
    assert.equal(await status(elsewhere), 200);
  });
});

Deno.test("attack: a burst of parallel wrong tokens from one address counts exactly: 30 answered 401, the rest 429", async () => {
  await withTestApp(async (t) => {
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async () =>
        await status(
          await t.app.request(
            "/api/admin/me",
            { headers: { authorization: WRONG_POT } },
            from("192.0.2.40"),
          ),
        )),
    );
    assert.equal(statuses.filter((s) => s === 401).length, 30, statuses.join(","));
    assert.equal(statuses.filter((s) => s === 429).length, 30, statuses.join(","));
  });
});
