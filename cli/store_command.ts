/**
 * A CLI line as the person must type it to reach the same store (README, Quick
 * start): `KV_PATH=…` in front when the store is not the default one, quoted for
 * a POSIX shell when it needs it, so the pasted line names the same store.
 */
import { DEFAULT_KV_PATH } from "../config.ts";

/**
 * `value` as one POSIX shell word: as it is when it holds nothing a shell reads specially,
 * else in single quotes (an embedded `'` as `'\''`).
 */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * `deno task <task>`, preceded by `KV_PATH=…` when the store is another than the default;
 * null on `:memory:`, which no CLI reaches.
 */
export function taskOnStore(task: string, kvPath: string | undefined): string | null {
  if (kvPath === ":memory:") return null;
  return kvPath && kvPath !== DEFAULT_KV_PATH
    ? `KV_PATH=${shellWord(kvPath)} deno task ${task}`
    : `deno task ${task}`;
}

/**
 * `deno task admin`, preceded by `KV_PATH=…` when the server runs on another store; null on
 * `:memory:`, which no CLI reaches.
 */
export function adminCommand(kvPath: string | undefined): string | null {
  return taskOnStore("admin", kvPath);
}
