/**
 * Test helpers around the KV Connect server: open it the way the service does
 * (`Deno.openKv(url)` with DENO_KV_ACCESS_TOKEN in the environment), and the
 * child-process environment for main.ts and the CLIs.
 */
import { type KvConnectOptions, type KvConnectServer, startKvConnect } from "./server.ts";

export { type KvConnectServer, startKvConnect };

export const ACCESS_TOKEN = "kvconnect-test-access-token-0123456789";

/** Runs `fn` with a fresh server; always closes it. */
export async function withKvConnect(
  fn: (server: KvConnectServer) => Promise<void>,
  options: Partial<KvConnectOptions> = {},
): Promise<void> {
  const server = startKvConnect({ accessToken: ACCESS_TOKEN, ...options });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/**
 * Deno reads the access token from the process environment when it opens a KV
 * Connect URL. The suite runs its files in parallel workers of one process
 * (`deno test --parallel`), which share that environment: the test token is
 * left in place once set, so a worker opening a store never sees another
 * worker's restore. A different token is set just for its own open.
 */
export async function openRemoteKv(url: string, token = ACCESS_TOKEN): Promise<Deno.Kv> {
  useTestAccessToken();
  if (token === ACCESS_TOKEN) return await Deno.openKv(url);
  Deno.env.set("DENO_KV_ACCESS_TOKEN", token);
  try {
    return await Deno.openKv(url);
  } finally {
    Deno.env.set("DENO_KV_ACCESS_TOKEN", ACCESS_TOKEN);
  }
}

/** Puts the suite's access token in the process environment (see openRemoteKv). */
export function useTestAccessToken(): void {
  if (Deno.env.get("DENO_KV_ACCESS_TOKEN") !== ACCESS_TOKEN) {
    Deno.env.set("DENO_KV_ACCESS_TOKEN", ACCESS_TOKEN);
  }
}
/** A child process's environment: only what Deno itself needs, plus `extra`. */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", ...extra };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** A loopback port nothing listens on (bound, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
