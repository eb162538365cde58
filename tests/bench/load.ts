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
  // A generator that has not answered well past its run is stuck (autocannon's child has sat idle
  // for minutes, on either route, now and then): it is killed and its round run once more, since
  // it measured nothing; stuck twice, the figure fails instead of the bench hanging.
  let out = await runGenerator(options);
  if (out.stuck) {
    progress(`  ${options.url}: the load generator was stuck; killed, running the round again`);
    out = await runGenerator(options);
  }
  if (out.stuck) {
    throw new Error(
      `load generator on ${options.url} stuck twice: no answer ${out.deadlineS} s after ` +
        `a ${options.durationS} s run`,
    );
  }
  if (!out.success) {
    throw new Error(`load generator failed (exit ${out.code}): ${out.stderr}`);
  }
  const stdout = out.stdout;
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

async function runGenerator(options: LoadOptions) {
  const host = new URL(options.url).host;
  const deadlineS = options.durationS + 45;
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
  const decode = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  return {
    stuck: !out.success && out.signal !== null,
    success: out.success,
    code: out.code,
    deadlineS,
    stdout: decode(out.stdout),
    stderr: decode(out.stderr),
  };
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
