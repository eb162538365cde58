/**
 * The admin CLI as users run it: `deno run admin.ts …` in a child process on a
 * temporary SQLite KV file, also while another process writes to that file or
 * holds its lock.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseArgs, USAGE } from "../cli/admin.ts";
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { createServices } from "../services/mod.ts";
import { silentLogger } from "../core/log.ts";
import { checkStoreLayout } from "../kv/layout.ts";
import { prepareStoreFile } from "../kv/open.ts";
import { noStripe } from "./helpers/app.ts";
import { auditEntries } from "./helpers/identity.ts";
import { totpCode } from "../services/identity/totp.ts";

/** How the printed lines run a task: with the Deno that runs this (README, Quick start). */
const TASK = `npx --yes deno@${Deno.version.deno} task`;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** the server's AUDIT_SIGNING_KEY, which the CLI is run with (README, Secrets) */
const SIGNING_KEY = "admin-cli-signing-key-0123456789abcdef";

function childEnv(kvPath: string): Record<string, string> {
  const env: Record<string, string> = {
    KV_PATH: kvPath,
    AUDIT_SIGNING_KEY: SIGNING_KEY,
    NO_COLOR: "1",
  };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  return env;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

async function cli(kvPath: string, ...args: string[]): Promise<CliResult> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", "cli/admin.ts", ...args],
    cwd: ROOT,
    env: childEnv(kvPath),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms: performance.now() - started,
  };
}

/** Starts a helper script in its own process; resolves once it printed "ready". */
async function startHelper(dir: string, name: string, source: string, args: string[]) {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, source);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-kv", "--quiet", path, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} exited before it was ready`);
    seen += value;
  }
  return {
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await reader.cancel();
      await child.status;
    },
  };
}

/** Writes to the KV file in a loop, as a running server would. */
const WRITER = `
const kv = await Deno.openKv(Deno.args[0]);
console.log("ready");
for (let n = 0;; n++) {
  const op = kv.atomic();
  for (let i = 0; i < 200; i++) op.set(["load", n % 5, i], "x".repeat(500));
  await op.commit();
}
`;

/** Holds SQLite's exclusive lock on the file for a while. */
const LOCK_HOLDER = `
import { DatabaseSync } from "node:sqlite";
const db = new DatabaseSync(Deno.args[0]);
db.exec("BEGIN EXCLUSIVE");
db.exec("CREATE TABLE IF NOT EXISTS lock_probe (x)");
console.log("ready");
await new Promise((r) => setTimeout(r, Number(Deno.args[1])));
db.exec("COMMIT");
db.close();
`;

/** Creates and stamps the store at `kvPath`, as the server's first start does. */
async function stampStore(kvPath: string): Promise<void> {
  await prepareStoreFile(kvPath);
  const kv = await Deno.openKv(kvPath);
  try {
    await checkStoreLayout(kv);
  } finally {
    kv.close();
  }
}

async function withTempKv(fn: (kvPath: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "admin_cli_" });
  try {
    await fn(`${dir}/data/kv.sqlite3`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The service on the CLI's KV file, with the signing key the CLI was run with. */
async function openLikeServer(kvPath: string) {
  const kv = await Deno.openKv(kvPath);
  const config = parseConfig({ KV_PATH: kvPath });
  const services = createServices({
    kv,
    clock: systemClock,
    stripe: noStripe,
    config: { ...config, auditSigningKey: SIGNING_KEY },
    log: silentLogger(),
  });
  return { kv, services };
}

const meta = { request_id: "req_cli_test", ip: null, user_agent: null };

Deno.test("admin create --json prints one JSON object whose token and TOTP secret work", async () => {
  await withTempKv(async (kvPath) => {
    const res = await cli(
      kvPath,
      "create",
      "--email",
      "Ops@Example.com",
      "--role",
      "operator",
      "--json",
    );
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split("\n");
    assert.equal(lines.length, 1, "exactly one line of output");
    const created = JSON.parse(lines[0]);
    for (const k of ["id", "email", "role", "token", "totp_secret", "otpauth_uri"]) {
      assert.equal(typeof created[k], "string", k);
    }
    assert.match(created.id, /^adm_/);
    assert.equal(created.email, "ops@example.com");
    assert.equal(created.role, "operator");
    assert.match(created.otpauth_uri, /^otpauth:\/\/totp\//);
    // the ops alert it raised (an operator made alone) is told on stderr too, stdout stays JSON
    const warning = JSON.parse(res.stderr.trim().split("\n").at(-1)!);
    assert.equal(warning.level, "warn");
    assert.equal(warning.kind, "admin_created");
    assert.equal(warning.admin_id, created.id);

    const { kv, services } = await openLikeServer(kvPath);
    try {
      const principal = await services.identity.authenticate(`Bearer ${created.token}`, meta);
      assert.equal(principal.admin_id, created.id);
      await services.identity.verifySecondFactor(principal, {
        otp: totpCode(created.totp_secret, Date.now()),
      }, meta);
      const entry = (await auditEntries(kv)).find((e) => e.action === "user.create");
      assert.equal(entry?.actor.type, "system");
      assert.equal(entry?.actor.id, "cli");
    } finally {
      kv.close();
    }
  });
});

Deno.test("admin list, disable, rotate-token and reset-2fa change the same KV, audited", async () => {
  await withTempKv(async (kvPath) => {
    const created = JSON.parse(
      (await cli(kvPath, "create", "--email", "a@example.com", "--role", "viewer", "--json"))
        .stdout,
    );
    const list = await cli(kvPath, "list");
    assert.equal(list.code, 0);
    assert.match(list.stdout, new RegExp(`${created.id}\\s+a@example.com\\s+viewer\\s+active`));

    const rotated = await cli(kvPath, "rotate-token", "--id", created.id, "--json");
    assert.equal(rotated.code, 0, rotated.stderr);
    const { token } = JSON.parse(rotated.stdout);
    assert.notEqual(token, created.token);

    const reset = await cli(kvPath, "reset-2fa", `--id=${created.id}`, "--json");
    assert.equal(reset.code, 0, reset.stderr);
    assert.notEqual(JSON.parse(reset.stdout).totp_secret, created.totp_secret);

    const disabled = await cli(kvPath, "disable", "--id", created.id);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.match(disabled.stdout, /disabled admin/);

    const { kv, services } = await openLikeServer(kvPath);
    try {
      await assert.rejects(
        services.identity.authenticate(`Bearer ${token}`, meta),
        /disabled/,
      );
      const actions = (await auditEntries(kv)).map((e) => e.action);
      assert.deepEqual(actions, ["user.create", "token.rotate", "totp.reset", "user.disable"]);
    } finally {
      kv.close();
    }
  });
});

Deno.test("admin enable re-enables with no old credential and prints an enrollment code", async () => {
  await withTempKv(async (kvPath) => {
    const created = JSON.parse(
      (await cli(kvPath, "create", "--email", "b@example.com", "--role", "operator", "--json"))
        .stdout,
    );
    assert.equal((await cli(kvPath, "disable", "--id", created.id)).code, 0);
    const human = await cli(kvPath, "enable", "--id", created.id);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /enabled admin/);
    assert.match(human.stdout, /enrollment code: enr_/);
    assert.equal((await cli(kvPath, "disable", "--id", created.id)).code, 0);
    const res = await cli(kvPath, "enable", "--id", created.id, "--json");
    assert.equal(res.code, 0, res.stderr);
    const enabled = JSON.parse(res.stdout);
    assert.equal(enabled.status, "active");
    assert.match(enabled.handover.enrollment_code, /^enr_/);
    const { kv, services } = await openLikeServer(kvPath);
    try {
      await assert.rejects(services.identity.authenticate(`Bearer ${created.token}`, meta));
      const redeemed = await services.identity.enroll(enabled.handover.enrollment_code, meta, {});
      assert.equal(redeemed.admin.id, created.id);
      assert.match(redeemed.token ?? "", /^pot_/);
    } finally {
      kv.close();
    }
  });
});

Deno.test("admin set-role changes a role at once (break-glass), audited as such", async () => {
  await withTempKv(async (kvPath) => {
    const created = JSON.parse(
      (await cli(kvPath, "create", "--email", "c@example.com", "--role", "viewer", "--json"))
        .stdout,
    );
    const res = await cli(kvPath, "set-role", "--id", created.id, "--role", "admin", "--json");
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).role, "admin");
    const bad = await cli(kvPath, "set-role", "--id", created.id, "--role", "owner");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown role "owner"/);
    const { kv, services } = await openLikeServer(kvPath);
    try {
      assert.equal((await services.identity.getAdmin(created.id)).role, "admin");
      const entries = (await services.audit.list({ limit: 50 })).data;
      const change = entries.find((e) =>
        e.target?.id === created.id && (e.after as { role?: string } | null)?.role === "admin"
      );
      assert.ok(change, JSON.stringify(entries.map((e) => e.action)));
      assert.match(String(change.reason), /break-glass \(cli\)/);
    } finally {
      kv.close();
    }
  });
});

Deno.test("admin with bad arguments prints usage and exits 2; an unknown id exits 1", async () => {
  await withTempKv(async (kvPath) => {
    for (
      const args of [
        [],
        ["frobnicate"],
        ["create", "--email", "a@example.com"],
        [
          "create",
          "--email",
          "a@example.com",
          "--role",
          "root",
        ],
        ["create", "--email", "not-an-email", "--role", "viewer"],
        ["disable"],
        [
          "list",
          "--id",
          "x",
        ],
      ]
    ) {
      const res = await cli(kvPath, ...args);
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
      assert.match(res.stderr, /usage: deno task admin/);
      assert.doesNotMatch(res.stderr, /body\./, "the CLI's flags are named, not the API's fields");
      assert.equal(res.stdout, "");
    }
    const missing = await cli(kvPath, "disable", "--id", "adm_nobody");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no admin adm_nobody/);
    assert.ok(missing.stderr.includes(`${TASK} admin list`), "where the ids are");
  });
});

Deno.test("admin create on an email that has an account names it and what to do instead", async () => {
  await withTempKv(async (kvPath) => {
    const first = await cli(kvPath, "create", "--email", "ops@example.com", "--role", "admin");
    assert.equal(first.code, 0, first.stderr);
    const id = /created admin (adm_\w+)/.exec(first.stdout)![1];
    const again = await cli(kvPath, "create", "--email", "ops@example.com", "--role", "admin");
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`already exists \\(${id}\\)`));
    assert.ok(again.stderr.includes(`${TASK} admin rotate-token --id ${id}`), again.stderr);
    assert.ok(again.stderr.includes(`${TASK} admin reset-2fa --id ${id}`), again.stderr);
  });
});

Deno.test("admin refuses a store written with another key layout (exit 1, saying what to do)", async () => {
  await withTempKv(async (kvPath, dir) => {
    await Deno.mkdir(`${dir}/data`, { recursive: true });
    const kv = await Deno.openKv(kvPath);
    await kv.set(["ledger", "cus_Old", "led_1"], { amount: 100 }); // an earlier version's data
    kv.close();
    const res = await cli(kvPath, "list");
    assert.equal(res.code, 1);
    assert.match(res.stderr, /key layout 1; this version reads layout 2/);
    assert.match(res.stderr, /deno task backfill/);
  });
});

Deno.test("parseArgs() reads --flag value and --flag=value, and refuses what it does not know", () => {
  assert.deepEqual(parseArgs(["create", "--email=a@b.co", "--role", "admin", "--json"]), {
    verb: "create",
    email: "a@b.co",
    role: "admin",
    json: true,
  });
  assert.deepEqual(parseArgs(["list"]), { verb: "list", json: false });
  assert.throws(() => parseArgs(["create", "--email", "--role", "admin"]), /needs a value/);
  assert.throws(() => parseArgs(["rotate-token", "--id"]), /needs a value/);
  assert.throws(() => parseArgs(["list", "extra"]), /unexpected argument/);
});

Deno.test("the usage text shows every flag each command takes, in 100 columns", () => {
  for (
    const verb of ["create", "list", "disable", "enable", "set-role", "reset-2fa", "rotate-token"]
  ) {
    const line = USAGE.split("\n").find((l) => l.startsWith(`  ${verb} `))!;
    assert.ok(line, verb);
    parseArgs([
      verb,
      ...(/--email/.test(line) ? ["--email", "a@b.co"] : []),
      ...(/--role/.test(line) ? ["--role", "admin"] : []),
      ...(/--id/.test(line) ? ["--id", "x"] : []),
      "--json",
    ]);
    assert.match(line, /\[--json\]/, `${verb} takes --json`);
  }
  for (const line of USAGE.split("\n")) assert.ok(line.length <= 100, line);
  assert.match(USAGE, /DENO_KV_ACCESS_TOKEN/, "a KV Connect URL in KV_PATH needs its token");
});

Deno.test("admin works while another process writes to the same KV file", async () => {
  await withTempKv(async (kvPath, dir) => {
    await stampStore(kvPath); // creates and stamps the store, as a server would
    const writer = await startHelper(dir, "writer.ts", WRITER, [kvPath]);
    try {
      for (const email of ["w1@example.com", "w2@example.com"]) {
        const res = await cli(kvPath, "create", "--email", email, "--role", "viewer", "--json");
        assert.equal(res.code, 0, res.stderr);
        assert.equal(JSON.parse(res.stdout).email, email);
      }
      const list = await cli(kvPath, "list", "--json");
      assert.equal(list.code, 0, list.stderr);
      assert.equal(JSON.parse(list.stdout).length, 2);
    } finally {
      await writer.stop();
    }
  });
});

Deno.test("admin waits out a short lock, and fails clearly (exit 1) on one that outlasts it", async () => {
  await withTempKv(async (kvPath, dir) => {
    await stampStore(kvPath); // creates the file
    const brief = await startHelper(dir, "hold_brief.ts", LOCK_HOLDER, [kvPath, "1500"]);
    try {
      const res = await cli(kvPath, "create", "--email", "l@example.com", "--role", "viewer");
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /created admin adm_/);
      assert.ok(res.ms > 800, `it waited for the lock (${Math.round(res.ms)} ms)`);
    } finally {
      await brief.stop();
    }
    const long = await startHelper(dir, "hold_long.ts", LOCK_HOLDER, [kvPath, "30000"]);
    try {
      const res = await cli(kvPath, "disable", "--id", "adm_x");
      assert.equal(res.code, 1);
      assert.match(res.stderr, /another process holds its lock; try again/);
      assert.ok(res.ms < 20_000);
    } finally {
      await long.stop();
    }
  });
});
