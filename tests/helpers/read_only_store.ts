/**
 * A KV file this process may read but not write, as a deployment meets one (a file of
 * another user, a copy mounted read-only). `chmod 444` is enough for any user but root, who
 * writes it anyway: as root the file is marked immutable instead (`chattr +i`, which needs
 * CAP_LINUX_IMMUTABLE and a file system that has the flag). Either way the file is checked:
 * opening it for writing must fail.
 */

async function refusesWrites(path: string): Promise<boolean> {
  try {
    (await Deno.open(path, { write: true })).close();
    return false;
  } catch {
    return true;
  }
}

async function chattr(flag: "+i" | "-i", path: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("chattr", { args: [flag, path], stderr: "null" })
      .output();
    return success;
  } catch {
    return false; // no chattr here
  }
}

/**
 * Makes the file at `path` read-only for this process; returns what undoes it, or null when
 * neither way works here (the caller's test says it cannot run, it does not pass).
 */
export async function makeReadOnly(path: string): Promise<(() => Promise<void>) | null> {
  await Deno.chmod(path, 0o444);
  if (await refusesWrites(path)) return () => Deno.chmod(path, 0o644);
  await Deno.chmod(path, 0o644);
  if (await chattr("+i", path) && await refusesWrites(path)) {
    return async () => void await chattr("-i", path);
  }
  await chattr("-i", path);
  return null;
}

/** Whether `makeReadOnly` works on this machine, tried on a file of its own. */
export async function readOnlyFilesPossible(): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "read_only_probe_" });
  try {
    await Deno.writeTextFile(`${dir}/f`, "x");
    const undo = await makeReadOnly(`${dir}/f`);
    await undo?.();
    return undo !== null;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * `kv` with every commit refused as Deno refuses one on a read-only file: for the message's
 * path where no read-only file can be made (root without `chattr`).
 */
export function refusingWrites(kv: Deno.Kv): Deno.Kv {
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    op.commit = () => Promise.reject(new TypeError("Can not write to a read-only database."));
    return op;
  };
  return kv;
}
