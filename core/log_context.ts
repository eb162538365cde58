/**
 * Fields every log line written within a unit of work carries, however deep
 * in the services it is written: an HTTP request's `request_id` (the
 * X-Request-Id it is answered with), a job's `job_id` and `job_kind`, a cron
 * task's name. Kept in an AsyncLocalStorage (node:async_hooks, on Deno 2.5 as
 * on 2.9), so they follow the work across awaits, timers and KV and fetch
 * calls without being passed down; one `run` per request costs well under a
 * microsecond, and a line not written costs nothing.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export type ContextFields = Record<string, unknown>;

const storage = new AsyncLocalStorage<ContextFields>();

/** Runs `fn` with `fields` added to those of the work it runs within (a job a request runs). */
export function withLogFields<T>(fields: ContextFields, fn: () => T): T {
  const outer = storage.getStore();
  return storage.run(outer ? { ...outer, ...fields } : fields, fn);
}

/** The fields of the unit of work running now, if any. */
export function currentLogFields(): ContextFields | undefined {
  return storage.getStore();
}
