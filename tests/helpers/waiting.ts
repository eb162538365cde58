/**
 * What a test is waiting for, said while it waits too long. A test that waits forever
 * (a connection that never answers, a server that never shuts down) would otherwise end
 * CI's run at its time limit with nothing but the test's name; `deno test` prints a
 * test's output as it comes, so these lines name the step.
 */
const EVERY_MS = 30_000;

/** Awaits `promise`; every 30 s it is still pending, prints `what` and for how long. */
export async function waitingFor<T>(what: string, promise: Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    console.error(`still waiting after ${s} s for ${what}`);
  }, EVERY_MS);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}

/** Polls (20 s at most: a busy machine is slow, never wrong) until `ready()`; else throws `what`. */
export async function waitUntil(
  ready: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const started = Date.now();
  while (!(await ready())) {
    if (Date.now() - started > 20_000) throw new Error(what);
    await new Promise((r) => setTimeout(r, 5));
  }
}
