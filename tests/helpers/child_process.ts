/**
 * A program of the project in a child process, run from the repository's
 * root with only the environment given, its standard output and error
 * collected as they come (for assertions, and for a failure's message).
 */
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CollectedChild {
  child: Deno.ChildProcess;
  /** everything printed so far, both streams */
  output(): string;
  /** what was printed on standard output alone */
  stdout(): string;
  /** waits until `pattern` was printed; throws with the output after `timeoutMs` */
  waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<void>;
  /**
   * The exit code, once both streams are read to the end. A child still
   * running after `timeoutMs` is killed and the wait throws with its output:
   * a child that never stops fails its test instead of holding the suite.
   */
  exited(timeoutMs?: number): Promise<number>;
}

export function spawnCollected(
  command: string,
  args: string[],
  env: Record<string, string>,
): CollectedChild {
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  let stdout = "";
  const collect = (s: ReadableStream<Uint8Array>, also?: (chunk: string) => void) =>
    s.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write: (chunk) => {
          output += chunk;
          also?.(chunk);
        },
      }),
    );
  const drained = Promise.all([
    collect(child.stdout, (chunk) => void (stdout += chunk)),
    collect(child.stderr),
  ]);
  return {
    child,
    output: () => output,
    stdout: () => stdout,
    async waitFor(pattern, what, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`never saw ${what}:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async exited(timeoutMs = 60_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), timeoutMs));
      const first = await Promise.race([child.status, late]);
      clearTimeout(timer);
      if (first === "late") {
        // its process group first (a child started under `setsid` leads one): a grandchild
        // left behind would hold the output streams open, and this wait with them
        try {
          Deno.kill(-child.pid, "SIGKILL");
        } catch { /* not a group leader */ }
        try {
          child.kill("SIGKILL");
        } catch { /* gone meanwhile */ }
        await child.status;
        await drained;
        throw new Error(`still running after ${timeoutMs} ms, killed:\n${output}`);
      }
      await drained;
      return first.code;
    },
  };
}
