import Stripe from "stripe";
import { BENCH_WEBHOOK_SECRET, createBenchApp } from "./bench_app.ts";
import { withTempKv } from "./support.ts";
import { paymentSucceededEvent } from "./fixtures.ts";
const N = Number(Deno.env.get("N") ?? 10000);
const INF = Number(Deno.env.get("INF") ?? 32);
const signer = new Stripe("sk_test_bench", { httpClient: Stripe.createFetchHttpClient() });
const cp = Stripe.createSubtleCryptoProvider();
const signed: { payload: string; header: string }[] = [];
for (let i = 0; i < N; i++) {
  const payload = paymentSucceededEvent(i);
  signed.push({ payload, header: await signer.webhooks.generateTestHeaderStringAsync({ payload, secret: BENCH_WEBHOOK_SECRET, cryptoProvider: cp }) });
}
await withTempKv(async (kv, path) => {
  const kvReads = await Deno.openKv(path);
  const { app, services } = createBenchApp(kv, { kvReads });
  const reqs = signed.map((s) => new Request("http://b.local/api/webhooks/stripe", { method: "POST", headers: { "content-type": "application/json", "stripe-signature": s.header }, body: s.payload }));
  const snap = () => { const m = new Map<string, number>(); for (const e of Deno.readDirSync("/proc/self/task")) { try { const st = Deno.readTextFileSync(`/proc/self/task/${e.name}/stat`); const name = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")")); const f = st.slice(st.lastIndexOf(")") + 2).split(" "); m.set(`${e.name}:${name}`, Number(f[11]) + Number(f[12])); } catch { /* gone */ } } return m; };
  const a = snap();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: INF }, async () => {
    while (next < reqs.length) { const r = await app.fetch(reqs[next++]); await r.body?.cancel(); if (r.status >= 300) throw new Error(String(r.status)); }
  }));
  await services.webhooks.drain();
  const s = (performance.now() - t0) / 1000;
  const b = snap();
  for (const [k, v] of b) { const d = v - (a.get(k) ?? 0); if (d > 2) console.log(k, (d / 100 / s * 100).toFixed(0) + "%"); }

  console.log(`${N} events, ${INF} in flight: ${(N / s).toFixed(0)}/s`);
  kvReads.close();
});
