/**
 * The HTTP baseline of the list figure: a bare Hono route that lists 25
 * records from KV and answers them as JSON, with no auth, no throttle, no
 * validation, no cursor. It is served from the KV the list benchmark seeded,
 * over the very transaction records the service lists, so both answer the
 * same records of the same size from the same file.
 */
import { Hono } from "hono";
import type { LoopbackServer } from "./load.ts";
import { serveOnLoopback } from "./load.ts";

export const BARE_LIST_PATH = "/bare";

export function serveBareList(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
  limit: number,
): LoopbackServer {
  const app = new Hono();
  app.get(BARE_LIST_PATH, async (c) => {
    const data = [];
    for await (const entry of kv.list({ prefix }, { limit, reverse: true })) data.push(entry.value);
    return c.json({ data }, 200);
  });
  return serveOnLoopback(app.fetch);
}
