/**
 * Started through wrappers (`npx deno@… task start` is npm -> sh -> deno task ->
 * deno run), a signal sent to the outermost pid stops only that process: npm
 * passes it to `sh` at most, and the server would keep serving under an
 * orphaned `deno task`. So the server watches the processes above it and
 * stops as if told to when one of them goes.
 *
 * Deno lets a program read /proc only with --allow-all, so the chain comes from
 * `ps` (the start task grants `--allow-run=ps`); without that permission, or
 * without `ps`, nothing is watched and signals work as usual.
 */

interface Link {
  pid: number;
  ppid: number;
}

async function ps(args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("ps", { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return null;
  }
}

/** `pid ppid` pairs of the listed processes that are still alive. */
async function links(pids: number[]): Promise<Link[] | null> {
  const text = await ps(["-o", "pid=,ppid=", "-p", pids.join(",")]);
  if (text === null) return null;
  return text.trim().split("\n").filter((l) => l.trim()).map((line) => {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    return { pid, ppid };
  });
}

async function chainAbove(pid: number): Promise<Link[]> {
  const chain: Link[] = [];
  let current = pid;
  while (current > 1 && chain.length < 32) {
    const found = (await links([current]))?.[0];
    if (!found) break;
    chain.push(found);
    current = found.ppid;
  }
  return chain;
}

/**
 * Calls `onGone` (once) when a process above this one exits or is reparented
 * (its own parent went); returns a stop function. A stop arrives within `everyMs`.
 */
export async function watchAncestors(
  onGone: (pid: number) => void,
  everyMs = 1000,
): Promise<() => void> {
  const allowed = Deno.build.os !== "windows" &&
    Deno.permissions.querySync({ name: "run", command: "ps" }).state === "granted";
  if (!allowed) return () => {};
  const chain = await chainAbove(Deno.ppid);
  if (chain.length === 0) return () => {};
  let checking = false;
  const timer = setInterval(async () => {
    if (checking) return;
    checking = true;
    const alive = await links(chain.map((l) => l.pid));
    checking = false;
    if (alive === null) return;
    const gone = chain.find((l) => !alive.some((a) => a.pid === l.pid && a.ppid === l.ppid));
    if (!gone) return;
    clearInterval(timer);
    onGone(gone.pid);
  }, everyMs);
  return () => clearInterval(timer);
}
