/**
 * POST /stripe (mounted under /api/webhooks): Stripe's deliveries. The body is read raw (the
 * signature covers the exact bytes) and capped while reading; nothing is
 * parsed before the signature verifies, so no zod request schema here. Stripe sends UTF-8: bytes
 * that are no UTF-8 are refused (`422` on `body` naming the offset) rather than decoded with
 * replacement characters, which no signature would match anyway.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { errorResponses, jsonContent } from "../openapi/schemas.ts";
import { AppError } from "../core/errors.ts";
import { utf8Text } from "./body_gate.ts";
import { MAX_WEBHOOK_BODY_BYTES } from "../services/webhooks/mod.ts";
import type { Services } from "../services/mod.ts";

const Received = z.object({
  received: z.literal(true),
  event_id: z.string().openapi({ example: "evt_1Q2w3E4r5T6y7U8i" }),
  duplicate: z.literal(true).optional().openapi({
    description: "this event id was already received; it is not applied again",
  }),
}).openapi("WebhookReceived");

const intake = createRoute({
  method: "post",
  path: "/stripe",
  operationId: "receiveStripeWebhook",
  tags: ["webhooks"],
  summary: "Stripe webhook intake",
  description: "Verifies `Stripe-Signature` (any configured secret, 300 s tolerance) on the raw " +
    "body and stores the event once per `event.id`. Plain ingestion is applied in the same " +
    "commit; anything that needs the audit chain or a look at Stripe is processed right after " +
    "the answer and retried by the job table (cron) until it succeeds or is dead-lettered. " +
    "Unknown event types are stored and acknowledged. Stripe sends UTF-8: a body that is no " +
    "UTF-8 is `422` on `body` naming the first bad byte's offset, nothing stored.",
  parameters: [{
    name: "stripe-signature",
    in: "header",
    required: true,
    schema: { type: "string" },
    description: "`t=<unix seconds>,v1=<hex HMAC-SHA256>` as sent by Stripe",
  }],
  // A plain JSON schema, not zod: documented, but not validated (the raw body must reach the
  // signature check untouched).
  request: {
    body: {
      required: true,
      content: {
        "application/json": { schema: { type: "object", description: "a Stripe event" } },
      },
    },
  },
  responses: {
    200: jsonContent(Received, "stored (or already stored); processing follows"),
    ...errorResponses("signature_invalid", "payload_too_large", "unavailable"),
  },
});

/** The body's bytes, refusing (without buffering the rest) anything over `limit` bytes. */
async function readLimited(req: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new AppError("payload_too_large", `webhook bodies are limited to ${limit / 1024} KiB`);
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!req.body) return new Uint8Array();
  // A declared length bounds the body (the server holds the client to it): read it at once.
  // The intake checks the size of what it got again.
  if (declared !== null) return new Uint8Array(await req.arrayBuffer());
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

export function webhookRoutes(services: Services) {
  return createRouter().openapi(intake, async (c) => {
    const body = utf8Text(await readLimited(c.req.raw, MAX_WEBHOOK_BODY_BYTES));
    const result = await services.webhooks.receive(body, c.req.header("stripe-signature"));
    return c.json(result, 200);
  });
}
