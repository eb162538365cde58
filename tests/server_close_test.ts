/**
 * core/server_close.ts: a server whose `shutdown()` waits on a connection
 * that never sends a request (Deno 2.5 does) is let go after the grace; one
 * that closes in time says so.
 */
import assert from "node:assert/strict";
import { closeServer } from "../core/server_close.ts";

Deno.test("closeServer: a real server with no connection closes; a silent connection never holds it past the grace", async () => {
  const idle = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => new Response());
  assert.equal(await closeServer(idle, 5_000), "closed");

  const held = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => new Response());
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: held.addr.port });
  const started = performance.now();
  const outcome = await closeServer(held, 300);
  const took = performance.now() - started;
  // Deno 2.5 waits on the silent socket ("cut" after the grace); newer Deno closes it at once
  assert.ok(outcome === "cut" || outcome === "closed", outcome);
  assert.ok(took < 5_000, `let go after ${took} ms`);
  silent.close();
  await held.finished;
});

Deno.test("closeServer: a shutdown that never ends is cut after the grace, and leaves no timer", async () => {
  const never = { shutdown: () => new Promise<void>(() => {}) };
  assert.equal(await closeServer(never, 20), "cut");
  const quick = { shutdown: () => Promise.resolve() };
  assert.equal(await closeServer(quick, 60_000), "closed"); // the sanitizer: the timer is cleared
});
