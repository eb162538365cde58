/**
 * What each group of keys in the webhook intake's commits costs KV's file
 * (docs/internals.md, "What an event's commit writes"):
 *
 *     deno run -A tests/bench/write_set_costs.ts [events]
 *
 * `events` defaults to 20,000, the full benchmark's size. The events'
 * commits are recorded as the webhook benchmark records them
 * (tests/bench/webhook_write_set.ts), then replayed whole and once without
 * each group of keys, twice over. Each line gives events/s, and KiB and
 * write calls an event: everything this process wrote meanwhile
 * (`/proc/<pid>/io`, so Linux only), the write-ahead log's pages and the
 * checkpoints'. A group is a key's first part, or a customer's key's third
 * (`customers/ledger`). Replay speeds swing with the machine; the bytes do
 * not.
 */
import { recordIntakeCommits, signEvents } from "./webhook.ts";
import { type Mutation, replayWriteSet } from "./webhook_write_set.ts";
import { kibEach, processWrites, progress } from "./support.ts";

const ROUNDS = 2;

function groupOf(key: Deno.KvKey): string {
  return key[0] === "customers" ? `customers/${String(key[2] ?? "")}` : String(key[0]);
}

async function replayLine(label: string, commits: Mutation[][], events: number): Promise<string> {
  const before = await processWrites();
  const seconds = await replayWriteSet(commits);
  const after = await processWrites();
  if (!before || !after) throw new Error("this tool reads /proc/<pid>/io: Linux only");
  const kib = kibEach(before, after, events);
  const calls = (after.calls - before.calls) / events;
  return `${label.padEnd(34)} ${String(Math.round(events / seconds)).padStart(7)} ` +
    `${kib.toFixed(1).padStart(8)} ${calls.toFixed(1).padStart(8)}`;
}

async function main(): Promise<void> {
  const events = Number(Deno.args[0] ?? 20_000);
  if (!Number.isInteger(events) || events < 1) {
    throw new Error(`events must be a whole number above 0, got "${Deno.args[0]}"`);
  }
  progress(`signing ${events} events`);
  const signed = await signEvents(Array.from({ length: events }, (_, i) => i));
  progress("delivering them, recording the intake's commits");
  const commits = await recordIntakeCommits(signed);
  const perEvent = new Map<string, number>();
  for (const commit of commits) {
    for (const m of commit) {
      const group = groupOf(m.key);
      perEvent.set(group, (perEvent.get(group) ?? 0) + 1);
    }
  }
  const groups = [...perEvent.keys()].sort();
  console.log(
    `${events} events in ${commits.length} commits (${
      (events / commits.length).toFixed(1)
    } a commit)`,
  );
  for (const g of groups) console.log(`  ${g}: ${(perEvent.get(g)! / events).toFixed(2)} an event`);
  console.log(`${"replayed".padEnd(34)} events/s KiB/event writes/event`);
  for (let round = 0; round < ROUNDS; round++) {
    console.log(await replayLine("all", commits, events));
    for (const g of groups) {
      const without = commits.map((c) => c.filter((m) => groupOf(m.key) !== g));
      console.log(await replayLine(`without ${g}`, without, events));
    }
  }
}

if (import.meta.main) await main();
