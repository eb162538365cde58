/**
 * HTTP load at N connections: autocannon (npm, runs under Deno) in a child
 * Deno process, so the server under test keeps its own event loop.
 */
import { progress } from "./support.ts";

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  method?: string;
  headers?: Record<string, string>;
}

export interface LoadResult {
  tool: string;
  req_per_s: number;
  /** autocannon's latency histogram has 1 ms resolution */
  p50_ms: number;
  p99_ms: number;
  total: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

export const LOAD_TOOL = "autocannon@8.0.0 (child process)";

const WORKER = new URL("./load_worker.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

/** Loads `url` and fails loudly if any response was an error: a bench of 401s measures nothing. */
export async function loadTest(options: LoadOptions): Promise<LoadResult> {
  const host = new URL(options.url).host;
  // A generator that has not answered a minute past its run is stuck (seen once: autocannon's
  // child idle for minutes): it is killed and the figure fails, instead of the bench hanging.
  const deadlineS = options.durationS + 60;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--config=${CONFIG.pathname}`,
      `--allow-net=${host}`,
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      WORKER.pathname,
      JSON.stringify(options),
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(deadlineS * 1000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  if (!out.success && out.signal !== null) {
    throw new Error(
      `load generator on ${options.url} stopped (${out.signal}): no answer ${deadlineS} s after ` +
        `a ${options.durationS} s run`,
    );
  }
  if (!out.success) {
    throw new Error(
      `load generator failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const result: LoadResult = JSON.parse(stdout.split("\n").at(-1) ?? "{}");
  if (result.errors || result.non2xx || result.timeouts) {
    throw new Error(
      `load on ${options.url} had ${result.non2xx} non-2xx responses, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  progress(
    `  ${options.url}: ${
      Math.round(result.req_per_s)
    } req/s, p99 ${result.p99_ms} ms (${result.tool})`,
  );
  return result;
}

export interface LoopbackServer {
  origin: string;
  close(): Promise<void>;
}

/** Serves `handler` with `Deno.serve` on 127.0.0.1 at a free port. */
export function serveOnLoopback(
  handler: (req: Request) => Response | Promise<Response>,
): LoopbackServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}
