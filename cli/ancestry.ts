/**
 * Started through wrappers (`npx deno@… task start` is npm -> sh -> deno task ->
 * deno run), a signal sent to the outermost pid stops only that process: npm
 * passes it to `sh` at most, and the server would keep serving under an
 * orphaned `deno task`. So the server watches the wrappers above it (deno,
 * node, npm, npx, and a shell between two of them) and stops as if told to
 * when one of them goes. Nothing above the outermost wrapper is watched: a
 * server started from a shell, `nohup` or a process manager outlives the
 * shell that started it.
 *
 * Deno lets a program read /proc only with --allow-all, so the chain comes from
 * `ps` (the start task grants `--allow-run=ps`); without that permission, or
 * without `ps`, nothing is watched and signals work as usual.
 */

export interface Link {
  pid: number;
  ppid: number;
  /** the process's command name as `ps` shows it (`deno`, `npm exec deno@2`, `sh`) */
  comm: string;
}

async function ps(args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("ps", { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return null;
  }
}

/** `pid ppid comm` of the listed processes that are still alive. */
async function links(pids: number[]): Promise<Link[] | null> {
  const text = await ps(["-o", "pid=,ppid=,comm=", "-p", pids.join(",")]);
  if (text === null) return null;
  return text.trim().split("\n").filter((l) => l.trim()).map((line) => {
    const [pid, ppid, ...comm] = line.trim().split(/\s+/);
    return { pid: Number(pid), ppid: Number(ppid), comm: comm.join(" ") };
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

const WRAPPER = /^(deno|node|nodejs|npm|npx)(\s|$)/;
const SHELL = /^(sh|dash|bash)$/;

/**
 * The part of `chain` (parent first) that launched this server: the wrappers
 * from the parent up, and a shell between two of them (npm runs `sh -c`); it
 * ends below the first other process. Empty when the parent is no wrapper.
 */
export function launchWrappers(chain: Link[]): Link[] {
  const out: Link[] = [];
  for (const [i, link] of chain.entries()) {
    const shellOfWrapper = SHELL.test(link.comm) && WRAPPER.test(chain[i + 1]?.comm ?? "");
    if (!WRAPPER.test(link.comm) && !shellOfWrapper) break;
    out.push(link);
  }
  return out;
}

/**
 * The first watched process that went: exited, or (below the outermost) was
 * reparented, which means the one above it exited. The outermost may be
 * reparented freely (its own parent is not a wrapper).
 */
export function goneLink(watched: Link[], alive: Link[]): Link | undefined {
  return watched.find((l, i) => {
    const now = alive.find((a) => a.pid === l.pid);
    return !now || (i < watched.length - 1 && now.ppid !== l.ppid);
  });
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
  const chain = launchWrappers(await chainAbove(Deno.ppid));
  if (chain.length === 0) return () => {};
  let checking = false;
  const timer = setInterval(async () => {
    if (checking) return;
    checking = true;
    const alive = await links(chain.map((l) => l.pid));
    checking = false;
    if (alive === null) return;
    const gone = goneLink(chain, alive);
    if (!gone) return;
    clearInterval(timer);
    onGone(gone.pid);
  }, everyMs);
  return () => clearInterval(timer);
}
