/**
 * Webhook intake: signed Stripe events through `app.fetch` (verification,
 * dedupe, event log and processing), on a temp-file KV opened as main.ts
 * opens one (a second handle for the applier's reads).
 *
 * The figure is the intake's capacity: `KV_COMMIT_CONCURRENCY` deliveries in
 * flight, enough to keep it busy, as the baseline's writers keep KV busy
 * (raw single-key commits/s at the same concurrency). With fewer in flight
 * the process idles between deliveries and the figure tells their latency,
 * not its throughput: that one is taken too, at `FEW_IN_FLIGHT`, as `webhook_ratio_few_in_flight`.
 *
 * What Stripe does is outside the clock: the events are signed and their
 * requests built before it starts. Processing follows the answer in the
 * background, so the clock stops only after `services.webhooks.drain()`, and
 * the last event is checked to be settled. Until `POST /api/webhooks/stripe`
 * exists the probe gets 404 and the figures stay `null`.
 *
 * Next to the figure, `webhook_write_set_per_s` / `_ratio` (extra): the same
 * events' commits replayed with nothing else running
 * (tests/bench/webhook_write_set.ts), which tells the cost of what the intake
 * writes from the cost of everything around it. And the two bounds the
 * intake can meet, per event at 32 in flight: KiB written
 * (`webhook_kib_per_event`, against `baseline_kv_commit_kib`) and CPU ms, all
 * threads and the main one (`webhook_cpu_ms_per_event`,
 * `webhook_main_thread_ms_per_event`): the JavaScript of one process runs on
 * one thread, so 1000 / the latter is the most events/s it can take.
 */
import Stripe from "stripe";
import { KV_COMMIT_CONCURRENCY } from "./baseline_kv.ts";
import { BENCH_WEBHOOK_SECRET, createBenchApp } from "./bench_app.ts";
import {
  type BenchContext,
  cpuMsEach,
  type FigureBench,
  kibEach,
  processCpu,
  processWrites,
  progress,
  withTempKv,
} from "./support.ts";
import { paymentSucceededEvent } from "./fixtures.ts";
import { type Mutation, recordWriteSet, replayWriteSet } from "./webhook_write_set.ts";

const PATH = "/api/webhooks/stripe";
/** Deliveries in flight for the latency-bound extra figure. */
const FEW_IN_FLIGHT = 8;

type Fetch = (req: Request) => Response | Promise<Response>;

export interface SignedEvent {
  payload: string;
  header: string;
}

interface Intake {
  perS: number;
  lastStatus: string;
  /** KiB this process wrote per event meanwhile (`processWrites`; NaN off Linux) */
  kibPerEvent: number;
  /** CPU ms per event meanwhile, all threads and the main one (`processCpu`; NaN off Linux) */
  cpuMsPerEvent: { all: number; main: number };
}

export const webhookBench: FigureBench = {
  name: "webhook intake",
  figures: ["webhook_events_per_s", "webhook_ratio", "webhook_ratio_few_in_flight"],
  async run(ctx: BenchContext) {
    // quick: still a couple of seconds of deliveries, about as long as the baseline runs
    // (a shorter run is mostly warm-up)
    const count = ctx.sizes.quick ? 5_000 : 20_000;
    const probe = await withIntakeApp((fetch) => post(fetch, signEvents([-1])));
    if (probe === 404) return { figures: {}, notes: `TODO: ${PATH} not served yet (404)` };
    if (probe >= 300) throw new Error(`webhook probe answered ${probe}`);

    progress(`  signing ${count} events`);
    const signed = await signEvents(Array.from({ length: count }, (_, i) => i));
    const busy = await withIntakeApp((fetch, app) =>
      timeIntake(fetch, app, signed, KV_COMMIT_CONCURRENCY)
    );
    progress(`  again with ${FEW_IN_FLIGHT} in flight`);
    const few = await withIntakeApp((fetch, app) => timeIntake(fetch, app, signed, FEW_IN_FLIGHT));
    progress("  the same events again, recording the intake's commits, then those alone");
    const writeSet = await writeSetCeiling(signed);
    const baseline = ctx.baselines.kv_commits_per_s;
    return {
      figures: {
        webhook_events_per_s: busy.perS,
        webhook_ratio: busy.perS / baseline,
        webhook_ratio_few_in_flight: few.perS / baseline,
      },
      extra: {
        webhook_events_per_s_few_in_flight: few.perS,
        webhook_write_set_per_s: writeSet.perS,
        webhook_write_set_ratio: writeSet.perS / baseline,
        webhook_events_per_commit: writeSet.eventsPerCommit,
        webhook_kib_per_event: busy.kibPerEvent,
        webhook_cpu_ms_per_event: busy.cpuMsPerEvent.all,
        webhook_main_thread_ms_per_event: busy.cpuMsPerEvent.main,
        webhook_write_set_kib_per_event: writeSet.kibPerEvent,
      },
      notes: `${count} payment_intent.succeeded events, ${KV_COMMIT_CONCURRENCY} in flight, ` +
        `processing drained; last event ${busy.lastStatus}. With ${FEW_IN_FLIGHT} in flight: ` +
        `${Math.round(few.perS)} events/s. Its commits replayed alone ` +
        `(no HTTP, verification, reads or checks): ${Math.round(writeSet.perS)} events/s, ` +
        `${writeSet.eventsPerCommit.toFixed(1)} events a commit. CPU at 32 in flight: ` +
        `${busy.cpuMsPerEvent.all.toFixed(2)} ms an event, ` +
        `${busy.cpuMsPerEvent.main.toFixed(2)} on the main thread`,
    };
  },
};

type BenchIntakeApp = ReturnType<typeof createBenchApp>;

/** A fresh app on a fresh temp-file KV with its read handle, as main.ts opens a local file. */
function withIntakeApp<T>(fn: (fetch: Fetch, app: BenchIntakeApp, kv: Deno.Kv) => Promise<T>) {
  return withTempKv(async (kv, path) => {
    const kvReads = await Deno.openKv(path);
    try {
      const app = createBenchApp(kv, { kvReads });
      const out = await fn(app.app.fetch, app, kv);
      await app.services.webhooks.drain();
      return out;
    } finally {
      kvReads.close();
    }
  });
}

async function timeIntake(
  fetch: Fetch,
  { services }: BenchIntakeApp,
  signed: SignedEvent[],
  inFlight: number,
): Promise<Intake> {
  const requests = signed.map(toRequest);
  const written = await processWrites();
  const cpu = await processCpu();
  const started = performance.now();
  await deliver(fetch, requests, inFlight);
  await services.webhooks.drain();
  const perS = signed.length / ((performance.now() - started) / 1000);
  const cpuMsPerEvent = cpuMsEach(cpu, await processCpu(), signed.length);
  const kibPerEvent = kibEach(written, await processWrites(), signed.length);
  const last = await services.webhooks.get(`evt_bench${String(signed.length).padStart(8, "0")}`);
  if (last.status === "received") {
    throw new Error(`the last event is still "received" after drain(): not processed`);
  }
  return { perS, lastStatus: last.status, kibPerEvent, cpuMsPerEvent };
}

/** `payment_intent.succeeded` events `ns`, signed as Stripe signs them. */
export async function signEvents(ns: number[]): Promise<SignedEvent[]> {
  const signer = new Stripe("sk_test_bench", { httpClient: Stripe.createFetchHttpClient() });
  const cryptoProvider = Stripe.createSubtleCryptoProvider();
  const out: SignedEvent[] = [];
  for (const n of ns) {
    const payload = paymentSucceededEvent(n);
    const header = await signer.webhooks.generateTestHeaderStringAsync({
      payload,
      secret: BENCH_WEBHOOK_SECRET,
      cryptoProvider,
    });
    out.push({ payload, header });
  }
  return out;
}

/** Delivers `requests` through `fetch`, `inFlight` at a time, as Stripe does. */
async function deliver(fetch: Fetch, requests: Request[], inFlight: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < requests.length) {
      const res = await fetch(requests[next++]);
      await res.body?.cancel();
      if (res.status >= 300) throw new Error(`webhook delivery answered ${res.status}`);
    }
  }));
}

/**
 * The intake's write set on its own (tests/bench/webhook_write_set.ts): the
 * events delivered again to a fresh app whose KV records each commit (not
 * timed), then those commits replayed on a fresh KV (timed).
 */
async function writeSetCeiling(
  signed: SignedEvent[],
): Promise<{ perS: number; eventsPerCommit: number; kibPerEvent: number }> {
  const commits = await recordIntakeCommits(signed);
  const written = await processWrites();
  const seconds = await replayWriteSet(commits);
  return {
    perS: signed.length / seconds,
    eventsPerCommit: signed.length / commits.length,
    kibPerEvent: kibEach(written, await processWrites(), signed.length),
  };
}

/** `signed` delivered to a fresh app on a scratch KV, `KV_COMMIT_CONCURRENCY` in flight: its commits. */
export function recordIntakeCommits(signed: SignedEvent[]): Promise<Mutation[][]> {
  return withTempKv(async (kv, path) => {
    const recorder = recordWriteSet(kv);
    const kvReads = await Deno.openKv(path);
    try {
      const { app, services } = createBenchApp(recorder.kv, { kvReads });
      await deliver(app.fetch, signed.map(toRequest), KV_COMMIT_CONCURRENCY);
      await services.webhooks.drain();
      return recorder.commits;
    } finally {
      kvReads.close();
    }
  });
}

/** The request as Stripe sends it: JSON with its length declared, and the signature. */
function toRequest(signed: SignedEvent): Request {
  return new Request(`http://bench.local${PATH}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(new TextEncoder().encode(signed.payload).length),
      "stripe-signature": signed.header,
    },
    body: signed.payload,
  });
}

async function post(fetch: Fetch, signing: Promise<SignedEvent[]>): Promise<number> {
  const [signed] = await signing;
  const res = await fetch(toRequest(signed));
  await res.body?.cancel();
  return res.status;
}
