import { type Ctx, nowSec } from "./context.ts";
import { markPastDue } from "./disputes.ts";
import { NO_REQUEST } from "./events.ts";
import { releaseAuthorization } from "./payment_intents.ts";

/** The emulator's clock: the configured one plus however far tests have moved it. */
export class Clock {
  offsetMs = 0;

  constructor(private base: () => number) {}

  now = (): number => this.base() + this.offsetMs;
}

/**
 * What Stripe does on its own as time passes: an uncaptured card authorization lapses
 * after 7 days (`charge.expired`, the PaymentIntent canceled if there is one), and open disputes past
 * their evidence deadline become `past_due`.
 */
export function sweep(ctx: Ctx): void {
  const now = nowSec(ctx);
  for (const pi of ctx.store.objects.payment_intents.values()) {
    if (pi.status !== "requires_capture") continue;
    const charge = ctx.store.objects.charges.get(pi.latest_charge);
    const before = charge?.payment_method_details?.card?.capture_before;
    if (!charge || before === undefined || now < before) continue;
    releaseAuthorization(charge);
    Object.assign(pi, {
      status: "canceled",
      canceled_at: now,
      cancellation_reason: "automatic",
      amount_capturable: 0,
    });
    ctx.bus.emit("charge.expired", charge, NO_REQUEST);
    ctx.bus.emit("payment_intent.canceled", pi, NO_REQUEST);
  }
  // A charge authorized without a PaymentIntent (`POST /v1/charges`, `capture=false`) lapses the
  // same way; `charge.expired` is then the only event that says so.
  for (const charge of ctx.store.objects.charges.values()) {
    if (charge.payment_intent || charge.captured || charge.status !== "succeeded") continue;
    const before = charge.payment_method_details?.card?.capture_before;
    if (before === undefined || now < before) continue;
    releaseAuthorization(charge);
    ctx.bus.emit("charge.expired", charge, NO_REQUEST);
  }
  markPastDue(ctx);
}
