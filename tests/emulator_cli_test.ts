/**
 * `deno task emulator` (README, Commands): the built-in Stripe emulator on its own, in a child
 * process. What it prints points a server outside demo mode at it: the SDK talks to it with the
 * printed key, and a server started with the printed STRIPE_API_URL and STRIPE_WEBHOOK_SECRETS
 * receives its signed webhooks; SIGINT or SIGTERM stops it with exit 0.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { ROOT, spawnCollected } from "./helpers/child_process.ts";
import { createTestApp } from "./helpers/app.ts";
import { waitUntil } from "./helpers/waiting.ts";
import { ManualClock } from "../core/clock.ts";
import { createStripeGateway, type StripeGateway } from "../services/stripe/gateway.ts";

const GIVEN_SECRET = "whsec_givenByTheOperator0123456789abcd";

function setting(output: string, name: string): string {
  const m = output.match(new RegExp(`^\\s*${name}=(\\S+)`, "m"));
  assert.ok(m, `${name}=… printed:\n${output}`);
  return m[1];
}

async function trial(opts: { secret?: string; signal: Deno.Signal }): Promise<void> {
  // the server's port first: the emulator is told where to send webhooks
  let handler: (req: Request) => Response | Promise<Response> = () =>
    new Response(null, {
      status: 503,
    });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (r) => handler(r));
  const webhookUrl = `http://127.0.0.1:${server.addr.port}/api/webhooks/stripe`;
  const emu = spawnCollected(
    Deno.execPath(),
    ["task", "--quiet", "emulator", "--port", "0", "--webhook-url", webhookUrl],
    {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? ROOT,
      DENO_DIR: Deno.env.get("DENO_DIR") ?? "",
      NO_COLOR: "1",
      ...(opts.secret ? { STRIPE_WEBHOOK_SECRETS: opts.secret } : {}),
    },
  );
  const client = Deno.createHttpClient({});
  let t: Awaited<ReturnType<typeof createTestApp>> | null = null;
  try {
    await emu.waitFor(/Ctrl-C stops the emulator/, "the emulator's settings");
    const out = emu.stdout();
    const apiUrl = setting(out, "STRIPE_API_URL");
    const key = setting(out, "STRIPE_SECRET_KEY");
    assert.match(apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(key, /^sk_test_/);
    assert.ok(out.includes(webhookUrl), `the webhook URL is printed:\n${out}`);
    let secret: string;
    if (opts.secret) {
      assert.ok(!out.includes(opts.secret), "a secret given in the environment is not echoed");
      assert.match(out, /STRIPE_WEBHOOK_SECRETS as set here/);
      secret = opts.secret;
    } else {
      secret = setting(out, "STRIPE_WEBHOOK_SECRETS");
      assert.match(secret, /^whsec_/);
    }

    // a server outside demo mode, on the printed settings
    const clock = new ManualClock(Date.now());
    let gateway: StripeGateway | null = null;
    t = await createTestApp({
      env: { STRIPE_SECRET_KEY: key, STRIPE_API_URL: apiUrl, STRIPE_WEBHOOK_SECRETS: secret },
      clock,
      stripe: { call: (fn, o) => gateway!.call(fn, o) },
    });
    assert.equal(t.deps.config.demo, false);
    const app = t;
    gateway = createStripeGateway({
      kv: app.kv,
      clock,
      config: app.deps.config,
      log: app.deps.log,
      fetch: (input, init) => fetch(input, { ...init, client }),
    });
    handler = (req) => app.app.fetch(req);

    // the SDK, with the printed key, at the printed URL
    const url = new URL(apiUrl);
    const stripe = new Stripe(key, {
      host: url.hostname,
      port: Number(url.port),
      protocol: "http",
      httpClient: Stripe.createFetchHttpClient((i, init) => fetch(i, { ...init, client })),
      maxNetworkRetries: 0,
    });
    const pi = await stripe.paymentIntents.create({
      amount: 4200,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    assert.equal(pi.status, "succeeded");
    // its webhook arrives signed with the secret the server was told, and is processed
    await waitUntil(async () => {
      await app.services.webhooks.drain();
      const page = await app.services.webhooks.list({ limit: 100 });
      return page.data.some((e) => e.type === "payment_intent.succeeded");
    }, `payment_intent.succeeded never reached the server:\n${emu.output()}`);
    const txn = await app.services.transactions.get(pi.id);
    assert.equal(txn.status, "succeeded");
    assert.equal(txn.amount, 4200);
  } finally {
    emu.child.kill(opts.signal);
    const code = await emu.exited();
    client.close();
    await t?.close();
    await server.shutdown();
    assert.equal(code, 0, `the emulator stops cleanly on ${opts.signal}:\n${emu.output()}`);
    assert.match(emu.output(), /emulator: stopping/);
  }
}

Deno.test("deno task emulator prints settings a server takes; it receives signed webhooks; SIGINT stops it", async () => {
  await trial({ signal: "SIGINT" });
});

Deno.test("deno task emulator signs with STRIPE_WEBHOOK_SECRETS when set, never echoing it; SIGTERM stops it", async () => {
  await trial({ secret: GIVEN_SECRET, signal: "SIGTERM" });
});
