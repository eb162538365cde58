/**
 * Which processes above it the server watches (README, Quick start): the
 * wrappers that launched it (`npx`, `deno task`, npm's `sh -c`), so killing
 * the outermost stops it; never the shell, `nohup` or process manager above
 * them, so a server started in the background outlives the shell.
 */
import assert from "node:assert/strict";
import { goneLink, launchWrappers, type Link } from "../cli/ancestry.ts";
import { childEnv, freePort } from "./helpers/kv_connect/mod.ts";

const link = (pid: number, ppid: number, comm: string): Link => ({ pid, ppid, comm });

Deno.test("the launch wrappers: npx's chain up to npm, deno task alone under a shell, nothing under a shell", () => {
  const npx = [
    link(641, 640, "deno"), // deno task
    link(640, 577, "sh"), // npm's sh -c
    link(577, 500, "npm exec deno@2"),
    link(500, 400, "bash"), // the terminal's shell
    link(400, 1, "sshd"),
  ];
  assert.deepEqual(launchWrappers(npx).map((l) => l.pid), [641, 640, 577]);
  const task = [link(30, 20, "deno"), link(20, 10, "bash"), link(10, 1, "tmux: server")];
  assert.deepEqual(launchWrappers(task).map((l) => l.pid), [30]);
  assert.deepEqual(launchWrappers([link(20, 10, "bash"), link(10, 1, "systemd")]), []);
});

Deno.test("a watched wrapper that exits is gone; the outermost being reparented is not", () => {
  const watched = [link(641, 640, "deno"), link(640, 577, "sh"), link(577, 500, "npm exec")];
  // the terminal's shell exited: npm is reparented, nothing watched went
  const reparented = [link(641, 640, "deno"), link(640, 577, "sh"), link(577, 1, "npm exec")];
  assert.equal(goneLink(watched, reparented), undefined);
  // npm was killed: sh may linger a moment, reparented
  const killed = [link(641, 640, "deno"), link(640, 1, "sh")];
  assert.equal(goneLink(watched, killed)?.pid, 640);
  assert.equal(goneLink([link(30, 20, "deno")], [link(30, 1, "deno")]), undefined);
  assert.equal(goneLink([link(30, 20, "deno")], [])?.pid, 30);
});

async function waitFor(path: string, pattern: RegExp, what: string, ms = 60_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (pattern.test(text)) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `timed out waiting for ${what}:\n${await Deno.readTextFile(path).catch(() => "")}`,
  );
}

/** Waits until process `pid` has exited (gone, or a zombie waiting to be reaped). */
async function gone(pid: number, what: string, ms = 60_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
    if (stat === null || /^\d+ \(.*\) Z/.test(stat)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (pid ${pid})`);
}

Deno.test("a server started in the background outlives the shell that started it; killing its deno task stops it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ancestry_" });
  const log = `${dir}/server.log`;
  const port = freePort();
  const env = childEnv({
    KV_PATH: `${dir}/kv.sqlite3`,
    PORT: String(port),
    STRIPE_EMULATOR_PORT: String(freePort()),
    LOG_FORMAT: "json",
  });
  // python -> sh -> deno task -> main.ts, as a shell script would start it; python leaves at
  // once and the shell exits once the server listens
  const script = `echo $$ > "${dir}/sh.pid"
    "${Deno.execPath()}" task --quiet start > "${log}" 2>&1 &
    echo $! > "${dir}/task.pid"
    while ! grep -q '"msg":"listening"' "${log}" 2>/dev/null; do sleep 0.2; done
    sleep 1.5`;
  const launcher = new Deno.Command("python3", {
    args: ["-c", "import subprocess,sys; subprocess.Popen(['sh', '-c', sys.argv[1]])", script],
    env,
    clearEnv: true,
    cwd: Deno.cwd(),
  });
  await launcher.output();
  try {
    await waitFor(log, /"msg":"demo admin created; /, "the credentials file's log line");
    const shellPid = Number((await Deno.readTextFile(`${dir}/sh.pid`)).trim());
    await gone(shellPid, "the shell that started the server to exit");
    // the watcher looks every second: two looks since the shell went, and a margin
    await new Promise((r) => setTimeout(r, 2500));
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200, await Deno.readTextFile(log));
    await res.body?.cancel();
    assert.doesNotMatch(await Deno.readTextFile(log), /above this one exited/);

    const taskPid = Number((await Deno.readTextFile(`${dir}/task.pid`)).trim());
    Deno.kill(taskPid, "SIGKILL"); // as when npx's wrapper is killed without passing it on
    const out = await waitFor(log, /"msg":"stopped"/, "the server to stop", 15_000);
    assert.match(out, new RegExp(`process ${taskPid} above this one exited`));
  } finally {
    await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.body?.cancel()).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
