/**
 * `deno task emulator [--port N] [--webhook-url URL]`: the built-in Stripe emulator on its own, on
 * a loopback port, for a server outside demo mode (README, Commands; Configuration,
 * `STRIPE_API_URL`): to try the first-admin flow or a real-key-like setup locally. It prints the
 * settings that point a server at it, signs each webhook it sends with the secret it prints (or
 * the first of `STRIPE_WEBHOOK_SECRETS` when set) and stops cleanly on Ctrl-C or SIGTERM.
 */
import { startEmulator } from "../emulator/mod.ts";
import { readEnvironment } from "../config.ts";
import { webhookSecretProblem } from "../core/webhook_secret.ts";

const DEFAULT_PORT = 12111;
const WEBHOOK_PATH = "/api/webhooks/stripe";

const USAGE = `usage: deno task emulator [--port N] [--webhook-url URL]

Starts the built-in Stripe emulator on 127.0.0.1 (port ${DEFAULT_PORT} unless --port; 0: any free
port) and prints STRIPE_API_URL, a test key and STRIPE_WEBHOOK_SECRETS for a server outside demo
mode. Webhooks go to --webhook-url (default http://127.0.0.1:<PORT or 8000>${WEBHOOK_PATH}),
signed with the first of STRIPE_WEBHOOK_SECRETS when set, else with a secret made for this run.
Ctrl-C (or SIGTERM) stops it.`;

interface Options {
  port: number;
  webhookUrl: string;
}

function fail(message: string): never {
  console.error(message);
  Deno.exit(2);
}

function parseArgs(args: string[], env: Record<string, string>): Options {
  let port = DEFAULT_PORT;
  let webhookUrl = `http://127.0.0.1:${env.PORT || "8000"}${WEBHOOK_PATH}`;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].includes("=") ? args[i].split(/=(.*)/s) : [args[i], undefined];
    const value = () => inline ?? args[++i] ?? fail(`${flag} needs a value\n\n${USAGE}`);
    if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    } else if (flag === "--port") {
      const raw = value();
      port = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(port >= 0 && port <= 65535)) fail(`--port must be 0 to 65535, not "${raw}"`);
    } else if (flag === "--webhook-url") {
      webhookUrl = value();
      if (!URL.canParse(webhookUrl) || !/^https?:$/.test(new URL(webhookUrl).protocol)) {
        fail(`--webhook-url must be an http(s) URL such as http://127.0.0.1:8000${WEBHOOK_PATH}`);
      }
    } else fail(`unknown argument "${args[i]}"\n\n${USAGE}`);
  }
  return { port, webhookUrl };
}

/** The secret the server is told: the first of STRIPE_WEBHOOK_SECRETS, or one made now. */
function webhookSecret(env: Record<string, string>): { secret: string; given: boolean } {
  const raw = env.STRIPE_WEBHOOK_SECRETS;
  if (raw) {
    const entries = raw.split(",").map((x) => x.trim());
    const problem = entries.map((e, i) => webhookSecretProblem(e, i, entries.length))
      .find(Boolean);
    if (problem) fail(problem);
    return { secret: entries[0], given: true };
  }
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return { secret: `whsec_${btoa(String.fromCharCode(...bytes))}`, given: false };
}

async function main(): Promise<void> {
  const env = readEnvironment();
  const options = parseArgs(Deno.args, env);
  const { secret, given } = webhookSecret(env);
  const emulator = await startEmulator({
    port: options.port,
    hostname: "127.0.0.1",
    webhook: { url: options.webhookUrl, secret },
    log: (msg) => console.error(msg),
  }).catch((error) => {
    if (error instanceof Deno.errors.AddrInUse) {
      fail(
        `port ${options.port} is in use (a demo's emulator, or another one running?); stop it ` +
          "or pass --port N (0: any free port)",
      );
    }
    throw error;
  });
  const secretLine = given
    ? "STRIPE_WEBHOOK_SECRETS as set here (its first entry signs each webhook)"
    : `STRIPE_WEBHOOK_SECRETS=${secret}`;
  console.log(
    [
      `Stripe emulator listening on ${emulator.url}`,
      "Start the server (outside demo mode) with:",
      `  STRIPE_API_URL=${emulator.url}`,
      "  STRIPE_SECRET_KEY=sk_test_emulator   (any sk_test_… or rk_test_… key; no real key works)",
      `  ${secretLine}`,
      `Webhooks, signed with that secret, go to ${options.webhookUrl} (--webhook-url to change;`,
      "  the server's PORT, default 8000). Ctrl-C stops the emulator; its state is not kept.",
    ].join("\n"),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.error("emulator: stopping");
    await emulator.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
}

await main();
