/**
 * Run in a child process (tests/cron_schedule_test.ts): asks `Deno.cron` itself
 * whether it takes each schedule given as JSON on the command line, with a
 * signal aborted before it is registered so nothing ever runs. Prints one JSON
 * object `{schedule: true | false}`, after a pause in which Deno's scheduler
 * would stop the process on a schedule it cannot place (one that never fires).
 */
const schedules = JSON.parse(Deno.args[0]) as string[];
const verdicts: Record<string, boolean> = {};
for (const [i, schedule] of schedules.entries()) {
  const stop = new AbortController();
  stop.abort();
  try {
    Deno.cron(`probe-${i}`, schedule, { signal: stop.signal }, () => {}).catch(() => {});
    verdicts[schedule] = true;
  } catch (error) {
    if (/too many/i.test((error as Error).message)) throw error; // at most 100 crons a process
    verdicts[schedule] = false;
  }
}
await new Promise((resolve) => setTimeout(resolve, Number(Deno.args[1] ?? "300")));
console.log(JSON.stringify(verdicts));
Deno.exit(0); // the registered crons would keep the process waiting
