/**
 * A CLI line as the person must type it to reach the same store (README, Quick
 * start): `KV_PATH=…` in front when the store is not the default one, quoted for
 * a POSIX shell when it needs it, so the pasted line names the same store; run
 * with the Deno that runs this process, so the store's runtime guard takes it.
 * The CLIs print these lines, and so do the ops alerts the break-glass CLI and the
 * server raise (README, Commands).
 */

/** Where a local store lives when KV_PATH is not set, off Deno Deploy (README, Quick start). */
export const DEFAULT_KV_PATH = "./data/kv.sqlite3";

/**
 * `value` as one POSIX shell word: as it is when it holds nothing a shell reads specially,
 * else in single quotes (an embedded `'` as `'\''`).
 */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * `deno task <task>` with the Deno that runs this process: `npx --yes deno@<its version> task`.
 * It runs where no `deno` is installed, and where another is (a server started with
 * `npx --yes deno@2.5.6 task start`, a local 2.9.6), it is still this version, whose store the
 * installed one's runtime guard may refuse (README, Quick start; Deploying to Deno Deploy).
 */
export function denoTask(task: string): string {
  return `npx --yes deno@${Deno.version.deno} task ${task}`;
}

/**
 * `denoTask(task)`, preceded by `KV_PATH=…` when the store is another than the default;
 * null on `:memory:`, which no CLI reaches.
 */
export function taskOnStore(task: string, kvPath: string | undefined): string | null {
  if (kvPath === ":memory:") return null;
  return kvPath && kvPath !== DEFAULT_KV_PATH
    ? `KV_PATH=${shellWord(kvPath)} ${denoTask(task)}`
    : denoTask(task);
}

/**
 * `denoTask("admin")`, preceded by `KV_PATH=…` when the server runs on another store; null on
 * `:memory:`, which no CLI reaches.
 */
export function adminCommand(kvPath: string | undefined): string | null {
  return taskOnStore("admin", kvPath);
}

/**
 * An admin CLI line, `adminCommand(kvPath)` then `args` (`enable --id adm_…`), as an ops alert
 * prints it: on a store named by no KV_PATH (Deno Deploy's own database), with the KV Connect
 * URL and access token to fill in; null on `:memory:`, which no CLI reaches.
 */
export function adminCliLine(kvPath: string | undefined, args: string): string | null {
  const cli = kvPath === undefined
    ? "KV_PATH=<this database's KV Connect URL> DENO_KV_ACCESS_TOKEN=<an access token> " +
      denoTask("admin")
    : adminCommand(kvPath);
  return cli === null ? null : `${cli} ${args}`;
}
