/**
 * The first minutes as an operator has them (README, Quick start), with
 * main.ts in a child process in demo mode on its own ports and KV file, with
 * JSON logs: every stdout line is JSON, seeding is logged, and the
 * credentials box is written to a 0600 file in the data directory (a log
 * line says where), never into the log; Ctrl-C stops the server
 * gracefully even though it arrives twice (the terminal signals the whole
 * foreground group, and `deno task` or `npx` passes it on again), and what
 * arrives during the stop is refused, logged and counted (liveness still
 * answers 200, readiness 503); a restart on
 * the same data says the demo admin exists and how to get a new token. The
 * seeded dispute due within a day is an ops alert as soon as the box shows. A
 * connection that never sends a request does not hold a stop.
 */
import assert from "node:assert/strict";
import { childEnv, freePort } from "./helpers/kv_connect/mod.ts";
import { spawnCollected } from "./helpers/child_process.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";

/**
 * `deno task start` as a terminal runs it: in a process group of its own
 * (`setsid`), so a signal to the group reaches the task runner and main.ts,
 * as Ctrl-C does.
 */
const METRICS_TOKEN = "scrape-token-0123456789";

/** Waits until the server's `payops_http_requests_in_flight` reads `n` or more. */
async function requestsInFlight(port: number, n: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    assert.equal(res.status, 200);
    const families = parsePrometheus(await res.text());
    if ((sampleValue(families, "payops_http_requests_in_flight") ?? 0) >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the server never had ${n} requests in flight`);
}

function startServer(env: Record<string, string>) {
  return spawnCollected("setsid", [Deno.execPath(), "task", "--quiet", "start"], env);
}

Deno.test("demo start (JSON logs): only JSON on stdout, the credentials in a 0600 file; Ctrl-C (delivered twice) stops gracefully; a restart says the admin exists", async () => {
  const dir = await Deno.makeTempDir({ prefix: "start_stop_" });
  try {
    const port = freePort();
    const env = childEnv({
      KV_PATH: `${dir}/data/kv.sqlite3`,
      PORT: String(port),
      STRIPE_EMULATOR_PORT: String(freePort()),
      LOG_FORMAT: "json",
      METRICS_TOKEN,
    });
    const first = startServer(env);
    // JSON logs (README, Quick start): every stdout line is JSON, the credentials are in a file
    await first.waitFor(/"msg":"demo admin created; its token/, "the credentials file's line");
    const lines = first.stdout().trim().split("\n");
    const entries = lines.map((l) => {
      try {
        return JSON.parse(l) as { msg: string; [k: string]: unknown };
      } catch {
        throw new Error(`a stdout line that is no JSON: ${l}\n${first.output()}`);
      }
    });
    const msgs = entries.map((e) => e.msg);
    const seeded = entries.find((e) => e.msg === "seeded the demo account");
    assert.ok(seeded, `seeding is reported:\n${msgs.join("\n")}`);
    assert.equal(seeded.disputed, 4);
    assert.ok(
      msgs.indexOf("seeded the demo account") <
        msgs.findIndex((m) => m.startsWith("demo admin created")),
    );
    const told = entries.find((e) => e.msg.startsWith("demo admin created"))!;
    const file = `${dir}/data/demo-admin-credentials.txt`;
    assert.equal(told.file, file);
    assert.doesNotMatch(
      first.output(),
      /pot_|otpauth:|Demo admin created/,
      "no credential in the log stream",
    );
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const out = await Deno.readTextFile(file);
    assert.match(out, /token +pot_/);
    assert.match(out, /a refund needs a TOTP code from the secret above/);
    // the box's "try next" lines work, and the dispute due within 24 h is already an ops alert
    const token = /token +(pot_\S+)/.exec(out)![1];
    const alerts = await fetch(`http://127.0.0.1:${port}/api/admin/payments/ops-alerts`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(alerts.status, 200);
    const kinds = ((await alerts.json()).data as { kind: string }[]).map((a) => a.kind);
    assert.deepEqual(kinds, ["dispute_due_soon"]);
    const box = first.output().length;

    // Ctrl-C on a terminal: SIGINT to the whole group; the task runner passes it on again.
    Deno.kill(-first.child.pid, "SIGINT");
    const code = await first.exited();
    const stopping = first.output().slice(box);
    assert.equal(code, 0, stopping);
    assert.match(stopping, /"msg":"stopping: finishing in-flight requests","reason":"SIGINT"/);
    assert.match(stopping, /"msg":"stopped","reason":"SIGINT"/);
    assert.doesNotMatch(stopping, /stopping now, without waiting/);

    const second = startServer(env);
    await second.waitFor(/the demo admin exists already/, "the note for a restart");
    // the store is not the default one: the command says which, or it would find no admin
    const kvPath = env.KV_PATH.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(
      second.output(),
      // run with the Deno that runs the server (README, Quick start)
      new RegExp(
        `"rotate_command":"KV_PATH=${kvPath} npx --yes deno@${Deno.version.deno} task admin ` +
          "rotate-token --id adm_",
      ),
    );
    assert.doesNotMatch(second.output(), /secret above/, "no secret is shown on a restart");
    assert.doesNotMatch(second.output(), /seeding the demo account/, "seeded once per store");

    // Connections that never send a request (a TCP health probe, a socket a client's pool opened
    // ahead of need) to the server and to the demo's emulator: on Deno 2.5 each held the stop
    // until its peer closed it (a CI run waited three minutes); now they close with the process.
    const silent = [
      await Deno.connect({ hostname: "127.0.0.1", port }),
      await Deno.connect({ hostname: "127.0.0.1", port: Number(env.STRIPE_EMULATOR_PORT) }),
    ];
    // SIGTERM while a request's body is still arriving: it finishes; new requests get 503
    const body = JSON.stringify({ code: `enr_${"x".repeat(40)}` });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const encoder = new TextEncoder();
    await conn.write(encoder.encode(
      "POST /api/admin/enroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
    ));
    // signalled once the server has taken it (a scrape counts itself), not after a guess
    await requestsInFlight(port, 2);
    Deno.kill(-second.child.pid, "SIGTERM");
    await second.waitFor(/stopping: finishing in-flight requests/, "the stop to begin");
    assert.match(second.output(), /"in_flight":1/, "the held request, named in the stop line");
    // liveness stays 200 while draining (the process is alive); readiness fails
    const alive = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(alive.status, 200);
    assert.deepEqual(await alive.json(), { ok: true });
    const late = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(late.status, 503);
    assert.equal(late.headers.get("retry-after"), "2");
    assert.equal((await late.json()).code, "unavailable");
    // refused like any other answer: our request id, counted, and (below) its access-log line;
    // a scrape is still served while the stop waits
    const lateId = late.headers.get("x-request-id");
    assert.match(String(lateId), /^req_/);
    const scrape = await fetch(`http://127.0.0.1:${port}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    assert.equal(scrape.status, 200);
    const refused = { method: "GET", route: "/readyz", status: "503" };
    const counted = parsePrometheus(await scrape.text());
    assert.equal(sampleValue(counted, "payops_http_requests_total", refused), 1);
    // every cron main.ts registers is a series for both outcomes, ran or not (README, "Metrics")
    for (const task of ["run-jobs", "audit-checkpoint", "fraud-sweep"]) {
      for (const outcome of ["ok", "error"]) {
        const runs = sampleValue(counted, "payops_cron_runs_total", { task, outcome });
        assert.ok(runs !== undefined && runs >= 0, `${task} ${outcome}`);
      }
    }
    await conn.write(encoder.encode(body.slice(10)));
    const answer = await new Response(conn.readable).text();
    assert.match(answer, /^HTTP\/1\.1 401/, answer);
    assert.match(answer, /enrollment_invalid/);
    assert.equal(await second.exited(30_000), 0, second.output());
    assert.match(second.output(), /"msg":"stopped","reason":"SIGTERM"/);
    for (const c of silent) c.close();
    for (const l of second.stdout().trim().split("\n")) JSON.parse(l);
    const lateLine = second.output().split("\n").find((l) => l.includes(`"${lateId}"`));
    assert.match(String(lateLine), /"msg":"request".*"path":"\/readyz","status":503/);
    assert.doesNotMatch(second.output(), /unhandled error/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
