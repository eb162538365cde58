/**
 * Opening the store the way main.ts and the CLIs do, with failures a person can
 * act on. `KV_PATH` may be a KV Connect URL (a self-hosted `denokv`, README,
 * Deploying): Deno then exchanges DENO_KV_ACCESS_TOKEN for the database's
 * metadata at once, so a wrong token or a server that is not running fails
 * here, before anything else runs.
 */
import { isKvLocked } from "./atomic.ts";

/** A KV Connect URL rather than a file path or `:memory:`. */
export function isKvConnectUrl(path: string | undefined): boolean {
  return /^https?:\/\//i.test(path ?? "");
}

export class KvOpenError extends Error {
  override name = "KvOpenError";
  constructor(readonly detail: string, readonly fix: string, options?: ErrorOptions) {
    super(`${detail}; ${fix}`, options);
  }
}

/**
 * A KV Connect URL in KV_PATH with no DENO_KV_ACCESS_TOKEN (`tokenSet`): refused before
 * opening, as the doctor says it; Deno would send nothing and report the denokv's refusal
 * of a token it never sent, with a link to Deno Deploy's console.
 */
export function requireAccessToken(path: string | undefined, tokenSet: boolean): void {
  if (!isKvConnectUrl(path) || tokenSet) return;
  throw new KvOpenError(MISSING_ACCESS_TOKEN.detail, MISSING_ACCESS_TOKEN.fix);
}

export const MISSING_ACCESS_TOKEN = {
  detail: "KV_PATH is a KV Connect URL but DENO_KV_ACCESS_TOKEN is not set",
  fix: "set DENO_KV_ACCESS_TOKEN to the token the denokv server was started with " +
    "(`denokv serve --access-token …`; for Deno Deploy's KV, an access token of the account)",
} as const;

/**
 * Deno's refusal of a commit to a store it could open only for reading: a file this user may
 * not write (or, for root too, one marked immutable), "Can not write to a read-only database".
 */
export function isReadOnlyStore(error: unknown): boolean {
  for (let c: unknown = error, depth = 0; c instanceof Error && depth < 5; depth++) {
    if (/read-?only database|SQLITE_READONLY/i.test(c.message)) return true;
    c = c.cause;
  }
  return false;
}

/** A store that answers reads but refuses every write, in words, with the fix. */
export function describeReadOnlyStore(path: string | undefined): { detail: string; fix: string } {
  const where = path ?? "the platform KV (Deno Deploy)";
  return {
    detail: `the KV store at ${where} (KV_PATH) is read-only: it answers reads but refuses ` +
      "every write (Deno: Can not write to a read-only database)",
    fix: "let the user the server (and this command) runs as write the file and its " +
      "directory (`ls -l`, then `chown` or `chmod u+w`; `lsattr`, then `chattr -i` for a file " +
      "marked immutable), or set KV_PATH to a store it may write",
  };
}

/** Where a write probe looks: a key nothing ever writes. */
const WRITE_PROBE_KEY = ["__kv_write_probe"];

/**
 * Whether `kv` takes a write, without changing anything: a commit whose only check (a
 * versionstamp on a key nothing writes) cannot pass, which SQLite still runs under the write
 * lock, so a store that can only be read refuses it. Throws a KvOpenError naming KV_PATH
 * (`path`) and the fix when the store is read-only; any other failure as it came.
 */
export async function probeStoreWrite(kv: Deno.Kv, path: string | undefined): Promise<void> {
  try {
    await kv.atomic().check({ key: WRITE_PROBE_KEY, versionstamp: "00000000000000010000" })
      .commit();
  } catch (error) {
    if (!isReadOnlyStore(error)) throw error;
    const { detail, fix } = describeReadOnlyStore(path);
    throw new KvOpenError(detail, fix, { cause: error });
  }
}

/** What went wrong opening `path`, in words, and what to do about it. */
export function describeKvOpenFailure(
  path: string | undefined,
  error: unknown,
): { detail: string; fix: string } {
  if (error instanceof KvOpenError) return { detail: error.detail, fix: error.fix };
  if (isReadOnlyStore(error)) return describeReadOnlyStore(path);
  const message = error instanceof Error ? error.message : String(error);
  const where = path ?? "the platform KV (Deno Deploy)";
  if (!isKvConnectUrl(path)) {
    return {
      detail: `cannot open the KV store at ${where}: ${message}`,
      fix: "check KV_PATH (a file path, :memory: or a KV Connect URL) and that its directory " +
        "is writable",
    };
  }
  // Deno 2.9 names the metadata endpoint's status; Deno 2.5 only its body, which for
  // denokv is "Invalid access token."
  if (/\b(401|403)\b|unauthori[sz]ed|forbidden|access token/i.test(message)) {
    return {
      detail: `the KV Connect server at ${path} refused DENO_KV_ACCESS_TOKEN (${message})`,
      fix: "set DENO_KV_ACCESS_TOKEN to the access token the denokv server was started with " +
        "(`denokv serve --access-token …`)",
    };
  }
  if (/connect|dns|resolve|refused|unreachable|timed? ?out|no answer/i.test(message)) {
    return {
      detail: `nothing answers at ${path}: ${message}`,
      fix: "start the denokv server (or correct KV_PATH's host and port) and check the " +
        "network path to it",
    };
  }
  return {
    detail: `cannot open the KV Connect URL ${path}: ${message}`,
    fix: "check that KV_PATH is the URL the denokv server listens on and that it speaks " +
      "KV Connect",
  };
}

/** `:memory:`: a store of the process that opens it, which no other process reaches. */
export function isInMemoryStore(path: string | undefined): boolean {
  return path === ":memory:";
}

/**
 * A CLI's refusal of `KV_PATH=:memory:` (README, Commands): the store it would open is its own,
 * empty and gone when it exits, never the server's; an account made there gets 401.
 */
export function inMemoryStoreError(what: string): KvOpenError {
  return new KvOpenError(
    `KV_PATH=:memory: is an in-memory store: it lives in the process that opened it, so ${what} ` +
      "would open one of its own, empty and gone when it exits, never the server's; a server " +
      "on :memory: is reached only through the server's API",
    "set KV_PATH to the server's store (the file or KV Connect URL `deno task start` runs " +
      "with, ./data/kv.sqlite3 by default); nothing was created",
  );
}

/** Whether `path` is a local KV file that is there (a KV Connect URL or `:memory:` counts as there). */
export async function storeFileExists(path: string | undefined): Promise<boolean> {
  if (!isLocalFile(path)) return true;
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw new KvOpenError(
      `cannot read the KV store at ${path} (KV_PATH): ${(error as Error).message}`,
      "check KV_PATH and that this user may read it",
      { cause: error },
    );
  }
}

/**
 * Makes the directory of a local KV file (`Deno.openKv` creates the file, not its directory);
 * a failure is a KvOpenError naming KV_PATH, not a stack trace at start.
 */
export async function prepareStoreFile(path: string | undefined): Promise<void> {
  if (!isLocalFile(path)) return;
  const dir = path.replace(/[/\\][^/\\]*$/, "");
  if (!dir || dir === path) return;
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw new KvOpenError(
      `cannot make the directory ${dir} for KV_PATH=${path}: ${(error as Error).message}`,
      "check KV_PATH (a file path, :memory: or a KV Connect URL): its directory must be one " +
        "this user may create or write to",
      { cause: error },
    );
  }
}

/**
 * `Deno.openKv(path)`, its failure turned into a KvOpenError that names the fix.
 * A KV Connect store is read once before it is handed out: Deno 2.9 exchanges
 * the token while opening, Deno 2.5 only at the first operation (and retries an
 * unreachable server without end), so the read, bounded by `timeoutMs`, makes
 * both fail here alike. Unless `options.readOnly` (a CLI verb that only reads), a
 * store that cannot be written fails here too (`probeStoreWrite`), not at the first write.
 */
export async function openStore(
  path: string | undefined,
  timeoutMs = 10_000,
  options: { readOnly?: boolean } = {},
): Promise<Deno.Kv> {
  let kv: Deno.Kv | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    kv = await Deno.openKv(path);
    if (isLocalFile(path)) retryLockedCommits(kv);
    if (isKvConnectUrl(path)) {
      const probe = kv.get(["__kv_open_probe"]);
      probe.catch(() => {}); // settles after the timeout on Deno 2.5; nobody waits for it then
      await Promise.race([
        probe,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    }
    if (!options.readOnly) await probeStoreWrite(kv, path);
    return kv;
  } catch (error) {
    kv?.close();
    const { detail, fix } = describeKvOpenFailure(path, error);
    throw new KvOpenError(detail, fix, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A second handle on the local KV file `path` (main.ts's `kvReads`), once its
 * opening pass is over. Every handle Deno opens on a file starts by deleting
 * the keys that expired (one write transaction, as long as there are keys to
 * delete) before it serves anything; meanwhile the first handle's checked
 * commits, which SQLite refuses at once rather than waiting while another
 * connection holds the write lock, would fail with "database is locked". A
 * read on the new handle is answered only after that pass.
 */
export async function openSecondHandle(path: string): Promise<Deno.Kv> {
  const kv = retryLockedCommits(await Deno.openKv(path));
  try {
    await kv.get(["__kv_open_probe"]);
    return kv;
  } catch (error) {
    kv.close();
    throw error;
  }
}

function isLocalFile(path: string | undefined): path is string {
  return !!path && !path.startsWith(":") && !isKvConnectUrl(path);
}

/**
 * Makes `kv`'s atomic commits wait out another connection's write lock on a
 * local file, as SQLite waits for a commit that read nothing first: a checked
 * commit it refuses at once with "database is locked" (each handle deletes the
 * expired keys about once a minute, a write; the admin CLI and the doctor
 * write too). A refused commit wrote nothing, and its checks are judged again
 * when it is sent again, so a value that moved meanwhile still fails it as a
 * conflict. Past `waitMs` the error is thrown as before. Returns `kv`.
 */
export function retryLockedCommits(kv: Deno.Kv, waitMs = 5_000): Deno.Kv {
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    const commit = op.commit.bind(op);
    op.commit = async () => {
      const deadline = Date.now() + waitMs;
      for (let refused = 0;; refused++) {
        try {
          return await commit();
        } catch (error) {
          const wait = Math.min(100, 5 * 2 ** refused) * (0.5 + Math.random() / 2);
          if (!isKvLocked(error) || Date.now() + wait > deadline) throw error;
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    };
    return op;
  };
  return kv;
}
