/**
 * The server's start and the doctor agree (README, Configuration; Doctor): DEMO=1 beside a
 * STRIPE_SECRET_KEY is refused by both with the fix (unset one of them), before anything runs;
 * demo mode on `:memory:` with JSON logs and no terminal, which the start refuses, is a problem
 * the doctor names with the same fix; a KV Connect URL without DENO_KV_ACCESS_TOKEN is refused
 * by the start and the CLIs before they open it, as the doctor says, never as a token the
 * server refused.
 */
import assert from "node:assert/strict";
import { adminCli } from "../cli/admin.ts";
import { formatFindings, runDoctor } from "../cli/doctor.ts";
import { ConfigError, parseConfig } from "../config.ts";
import { childEnv, freePort, withKvConnect } from "./helpers/kv_connect/mod.ts";
import { spawnCollected } from "./helpers/child_process.ts";

const SIGNING_KEY = "start-doctor-signing-key-0123456789abcdef";

function startServer(env: Record<string, string>) {
  return spawnCollected(Deno.execPath(), ["run", "-A", "--quiet", "main.ts"], childEnv(env));
}

const BOTH =
  /DEMO=1 runs demo mode against the built-in Stripe emulator, which takes no real key, and STRIPE_SECRET_KEY is set too; unset DEMO to run against Stripe with that key, or unset STRIPE_SECRET_KEY to run the demo/;

Deno.test("DEMO=1 with STRIPE_SECRET_KEY: the start and the doctor refuse it alike, naming the fix", async () => {
  const dir = await Deno.makeTempDir({ prefix: "demo_key_" });
  try {
    const env = {
      KV_PATH: `${dir}/kv.sqlite3`,
      DEMO: "1",
      STRIPE_SECRET_KEY: "sk_live_0123456789abcdef",
      PORT: String(freePort()),
      STRIPE_EMULATOR_PORT: String(freePort()),
      LOG_FORMAT: "json",
    };
    assert.throws(() => parseConfig(env), (e) => e instanceof ConfigError && BOTH.test(e.message));
    const findings = await runDoctor({ env });
    const config = findings.find((f) => f.check === "configuration");
    assert.equal(config?.severity, "fail", JSON.stringify(findings));
    assert.match(config.detail, BOTH);
    assert.doesNotMatch(
      formatFindings(findings),
      /no STRIPE_SECRET_KEY|fix: set STRIPE_SECRET_KEY/,
    );

    const server = startServer(env);
    assert.equal(await server.exited(), 1, server.output());
    assert.match(server.output(), BOTH);
    assert.doesNotMatch(server.output(), /emulator started|seeding/);
    await assert.rejects(() => Deno.stat(`${dir}/kv.sqlite3`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo mode on :memory: with JSON logs and no terminal: the doctor fails it with the start's fix", async () => {
  const env = { KV_PATH: ":memory:", PORT: String(freePort()), LOG_FORMAT: "json" };
  const findings = await runDoctor({ env, terminal: { stdout: false, stderr: false } });
  const place = findings.find((f) => f.check === "demo credentials");
  assert.equal(place?.severity, "fail", JSON.stringify(findings));
  assert.match(formatFindings(findings), /1 problem\(s\)/);

  const server = startServer({ ...env, STRIPE_EMULATOR_PORT: String(freePort()) });
  assert.equal(await server.exited(), 1, server.output());
  assert.ok(server.output().includes(place.detail), server.output());
  assert.ok(server.output().includes(place.fix!.slice(1)), server.output());

  // with a terminal for the credentials (standard error), the start would show them there
  const onTerminal = await runDoctor({ env, terminal: { stdout: false, stderr: true } });
  assert.ok(!onTerminal.some((f) => f.check === "demo credentials"), JSON.stringify(onTerminal));
});

const NO_TOKEN =
  /KV_PATH is a KV Connect URL but DENO_KV_ACCESS_TOKEN is not set; set DENO_KV_ACCESS_TOKEN to the token the denokv server was started with/;

Deno.test("a KV Connect URL without DENO_KV_ACCESS_TOKEN: start, admin and backfill say so before opening it", async () => {
  await withKvConnect(async (kvc) => {
    const env = {
      KV_PATH: kvc.url,
      AUDIT_SIGNING_KEY: SIGNING_KEY,
      STRIPE_SECRET_KEY: "sk_test_no_token",
      STRIPE_API_URL: "http://127.0.0.1:9",
      PORT: String(freePort()),
      LOG_FORMAT: "json",
    };
    const server = startServer(env);
    assert.equal(await server.exited(), 1, server.output());

    const err: string[] = [];
    const code = await adminCli(["list"], env, { out: () => {}, err: (l) => err.push(l) });
    assert.equal(code, 1);

    const backfill = spawnCollected(
      Deno.execPath(),
      ["run", "-A", "--quiet", "cli/backfill.ts", "--since", "1d"],
      childEnv(env),
    );
    assert.equal(await backfill.exited(), 1, backfill.output());

    for (const said of [server.output(), err.join("\n"), backfill.output()]) {
      assert.match(said, NO_TOKEN);
      assert.doesNotMatch(said, /refused DENO_KV_ACCESS_TOKEN|console\.deno\.com|Uncaught/);
    }
    const kv = (await runDoctor({ env })).find((f) => f.check === "kv");
    assert.match(`${kv?.detail}; ${kv?.fix}`, NO_TOKEN);
    assert.equal(kvc.counts.metadata ?? 0, 0, "the KV Connect server was never asked");
  });
});
