/**
 * Webhook intake: signed Stripe events through `app.fetch` (verification,
 * dedupe, event log and processing), `KV_COMMIT_CONCURRENCY` deliveries in
 * flight as Stripe sends them, against raw single-key commits/s at the same
 * concurrency. Events are signed before the clock starts: signing is
 * Stripe's cost, not ours.
 *
 * "Including processing": intake stores the event and answers, processing
 * follows in the background, so the clock stops only after
 * `services.webhooks.drain()`, and the last event is checked to be settled.
 * Until `POST /api/webhooks/stripe` exists the probe gets 404 and the
 * figures stay `null`.
 *
 * Next to the figure, `webhook_write_set_per_s` / `_ratio` (extra): the same
 * events' commits replayed with nothing else running
 * (tests/bench/webhook_write_set.ts), which tells the cost of what the intake
 * writes from the cost of everything around it.
 */
import Stripe from "stripe";
import { KV_COMMIT_CONCURRENCY } from "./baseline_kv.ts";
import { BENCH_WEBHOOK_SECRET, createBenchApp } from "./bench_app.ts";
import { type BenchContext, type FigureBench, progress, withTempKv } from "./support.ts";
import { paymentSucceededEvent } from "./fixtures.ts";
import { recordWriteSet, replayWriteSet } from "./webhook_write_set.ts";

const PATH = "/api/webhooks/stripe";

interface SignedEvent {
  payload: string;
  header: string;
}

export const webhookBench: FigureBench = {
  name: "webhook intake",
  figures: ["webhook_events_per_s", "webhook_ratio"],
  async run(ctx: BenchContext) {
    return await withTempKv(async (kv, path) => {
      // as main.ts opens a local file: a second handle for the applier's reads
      const kvReads = await Deno.openKv(path);
      try {
        return await measure(ctx, kv, kvReads);
      } finally {
        kvReads.close();
      }
    });
  },
};

async function measure(
  ctx: BenchContext,
  kv: Deno.Kv,
  kvReads: Deno.Kv,
): Promise<Awaited<ReturnType<FigureBench["run"]>>> {
  const { app, services } = createBenchApp(kv, { kvReads });
  const count = ctx.sizes.quick ? 2_000 : 20_000;
  const signer = new Stripe("sk_test_bench", { httpClient: Stripe.createFetchHttpClient() });
  const crypto = Stripe.createSubtleCryptoProvider();
  const sign = async (payload: string): Promise<SignedEvent> => {
    const header = await signer.webhooks.generateTestHeaderStringAsync({
      payload,
      secret: BENCH_WEBHOOK_SECRET,
      cryptoProvider: crypto,
    });
    return { payload, header };
  };
  const probe = await post(app.fetch, await sign(paymentSucceededEvent(-1)));
  if (probe.status === 404) {
    return { figures: {}, notes: `TODO: ${PATH} not served yet (404)` };
  }
  if (probe.status >= 300) throw new Error(`webhook probe answered ${probe.status}`);
  await services.webhooks.drain();

  progress(`  signing ${count} events`);
  const signed: SignedEvent[] = [];
  for (let i = 0; i < count; i++) signed.push(await sign(paymentSucceededEvent(i)));

  const started = performance.now();
  await deliver(app.fetch, signed);
  await services.webhooks.drain();
  const perS = count / ((performance.now() - started) / 1000);
  const last = await services.webhooks.get(`evt_bench${String(count).padStart(8, "0")}`);
  if (last.status === "received") {
    throw new Error(`the last event is still "received" after drain(): not processed`);
  }
  progress("  the same events again, recording the intake's commits, then those alone");
  const writeSet = await writeSetCeiling(signed);
  return {
    figures: {
      webhook_events_per_s: perS,
      webhook_ratio: perS / ctx.baselines.kv_commits_per_s,
    },
    extra: {
      webhook_write_set_per_s: writeSet.perS,
      webhook_write_set_ratio: writeSet.perS / ctx.baselines.kv_commits_per_s,
      webhook_events_per_commit: writeSet.eventsPerCommit,
    },
    notes: `${count} payment_intent.succeeded events, ${KV_COMMIT_CONCURRENCY} in flight, ` +
      `processing drained; last event ${last.status}. Its commits replayed alone ` +
      `(no HTTP, verification, reads or checks): ${Math.round(writeSet.perS)} events/s, ` +
      `${writeSet.eventsPerCommit.toFixed(1)} events a commit`,
  };
}

/** Delivers `signed` through `fetch`, `KV_COMMIT_CONCURRENCY` at a time, as Stripe does. */
async function deliver(
  fetch: (req: Request) => Response | Promise<Response>,
  signed: SignedEvent[],
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: KV_COMMIT_CONCURRENCY }, async () => {
    while (next < signed.length) {
      const res = await post(fetch, signed[next++]);
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
): Promise<{ perS: number; eventsPerCommit: number }> {
  const commits = await withTempKv(async (kv, path) => {
    const recorder = recordWriteSet(kv);
    const kvReads = await Deno.openKv(path);
    try {
      const { app, services } = createBenchApp(recorder.kv, { kvReads });
      await deliver(app.fetch, signed);
      await services.webhooks.drain();
      return recorder.commits;
    } finally {
      kvReads.close();
    }
  });
  const seconds = await replayWriteSet(commits);
  return { perS: signed.length / seconds, eventsPerCommit: signed.length / commits.length };
}

async function post(
  fetch: (req: Request) => Response | Promise<Response>,
  signed: SignedEvent,
): Promise<{ status: number }> {
  const res = await fetch(
    new Request(`http://bench.local${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signed.header },
      body: signed.payload,
    }),
  );
  await res.body?.cancel();
  return { status: res.status };
}
