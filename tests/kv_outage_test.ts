/**
 * The store stops answering (KV_PATH a KV Connect URL whose server is gone): readiness says so
 * within its 2 s, a request that needs KV is answered `503 unavailable` with `Retry-After` within
 * the store's deadline instead of hanging, `GET /metrics` still answers (the process's own
 * counters; the KV-read gauges are skipped and marked stale), and SIGTERM stops the server in a
 * bounded time, naming what it could not finish, and logs `stopped` (README, "Quick start",
 * "Metrics").
 */
import assert from "node:assert/strict";
import { startTestEmulator } from "./helpers/emulator.ts";
import { ACCESS_TOKEN, childEnv, freePort, withKvConnect } from "./helpers/kv_connect/mod.ts";
import { ROOT, spawnCollected } from "./helpers/child_process.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";
import { mediaType, responseChecker } from "./helpers/response_schema.ts";

const SECRET = "whsec_" + "K1v2O3u4".repeat(4);
const METRICS_TOKEN = "scrape-token-0123456789";

async function adminToken(env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "admin", "create", "--email", "boss@example.com", "--role", "admin"]
      .concat(["--json"]),
    cwd: ROOT,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return JSON.parse(dec.decode(out.stdout)).token;
}

/** The answer and how long it took, or "no answer" after `limitMs`. */
async function timed(url: string, init: RequestInit, limitMs: number) {
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(limitMs) });
    const body = await res.text();
    return { res, body, ms: performance.now() - started };
  } catch (error) {
    throw new Error(`${url}: no answer within ${limitMs} ms (${error})`);
  }
}

Deno.test("KV Connect server gone: 503 unavailable within a bound, /metrics answers, SIGTERM stops", async () => {
  const emu = await startTestEmulator();
  try {
    await withKvConnect(async (kvc) => {
      const port = freePort();
      const base = `http://127.0.0.1:${port}`;
      const env = childEnv({
        KV_PATH: kvc.url,
        DENO_KV_ACCESS_TOKEN: ACCESS_TOKEN,
        STRIPE_SECRET_KEY: "sk_test_kvoutage",
        STRIPE_API_URL: emu.url,
        STRIPE_WEBHOOK_SECRETS: SECRET,
        AUDIT_SIGNING_KEY: "kvoutage-signing-key-0123456789abcdef",
        LOG_FORMAT: "json",
        METRICS_TOKEN,
        PORT: String(port),
      });
      const server = spawnCollected(
        Deno.execPath(),
        ["run", "--allow-all", "--quiet", "main.ts"],
        env,
      );
      try {
        await server.waitFor(/"msg":"listening"/, "the server listening");
        const token = await adminToken(env);
        const me = await timed(`${base}/api/admin/me`, {
          headers: { authorization: `Bearer ${token}` },
        }, 10_000);
        assert.equal(me.res.status, 200, me.body);

        await kvc.close();

        const ready = await timed(`${base}/readyz`, {}, 10_000);
        assert.equal(ready.res.status, 503);

        const gone = await timed(`${base}/api/admin/me`, {
          headers: { authorization: `Bearer ${token}` },
        }, 15_000);
        assert.equal(gone.res.status, 503, gone.body);
        assert.equal(JSON.parse(gone.body).code, "unavailable");
        assert.ok(Number(gone.res.headers.get("retry-after")) >= 1);
        assert.ok(gone.ms < 8_000, `answered after ${gone.ms} ms`);

        const scrape = await timed(`${base}/metrics`, {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        }, 15_000);
        assert.equal(scrape.res.status, 200, scrape.body);
        assert.ok(scrape.ms < 8_000, `answered after ${scrape.ms} ms`);
        const families = parsePrometheus(scrape.body);
        // the process's own counters are served; the store's gauges are marked stale
        assert.ok(
          (sampleValue(families, "payops_http_requests_total", {
            method: "GET",
            route: "/api/admin/me",
            status: "503",
          }) ?? 0) >= 1,
        );
        assert.equal(sampleValue(families, "payops_metrics_kv_stale"), 1);
        // an admin's token needs the store to be checked: 503, as the document says (README, "Metrics")
        const adminScrape = await timed(`${base}/metrics`, {
          headers: { authorization: `Bearer ${token}` },
        }, 15_000);
        assert.equal(adminScrape.res.status, 503, adminScrape.body);
        assert.equal(JSON.parse(adminScrape.body).code, "unavailable");
        assert.ok(Number(adminScrape.res.headers.get("retry-after")) >= 1);
        const doc = JSON.parse((await timed(`${base}/openapi.json`, {}, 15_000)).body);
        const checker = responseChecker(doc);
        const label = "GET /metrics with an admin's token, KV gone";
        checker.checkHeaders("get", "/metrics", adminScrape.res, label);
        const type = mediaType(adminScrape.res);
        checker.check("get", "/metrics", 503, type, JSON.parse(adminScrape.body), label);

        // a request that hangs on the store while the stop begins
        const hanging = fetch(`${base}/api/admin/me`, {
          headers: { authorization: `Bearer ${token}` },
        }).then((r) => r.body?.cancel(), () => {});
        await new Promise((r) => setTimeout(r, 300));
        const stopAsked = performance.now();
        server.child.kill("SIGTERM");
        const code = await server.exited(40_000);
        const took = performance.now() - stopAsked;
        await hanging;
        assert.equal(code, 0, server.output());
        assert.match(server.output(), /"msg":"stopped"/);
        assert.ok(took < 25_000, `stopped after ${took} ms:\n${server.output()}`);
      } finally {
        try {
          server.child.kill("SIGKILL");
        } catch { /* already gone */ }
        await server.exited().catch(() => {});
      }
    });
  } finally {
    await emu.close();
  }
});
