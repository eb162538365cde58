/**
 * One processing of a stored event at a time, by the attempt right after
 * intake, a replay or its retry job (README, "Stripe webhooks"). The attempt
 * after intake takes no claim (the intake writes nothing more on its hot
 * path): its event's record, as the intake stored it, with its job leased to
 * it until `INLINE_LEASE_MS` after arrival, stands for one (`inlineAttempt`).
 * A replay or the retry job takes the event's claim in a commit that
 * checks the record as it judged it, processes, and lets the claim go in the
 * commit that records the outcome. A replay meets a claim held by someone
 * else with 409 naming who and since when (the same admin's same replay waits
 * for it and answers what it did); the retry job waits for a replay; a
 * dismissal is refused while either runs. A claim lapses after `CLAIM_MS`
 * (a process that died mid-attempt), and is taken over then.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import {
  addClaim,
  addClaimRelease,
  getClaim,
  getEvent,
  type WebhookEventClaim,
  type WebhookEventRecord,
} from "../../kv/webhook_events.ts";

/** How long a claim holds: an attempt's Stripe read-backs (20 s each) and more. */
export const CLAIM_MS = 120_000;
/**
 * How long the attempt right after intake holds its event: its job is due only
 * then (processing.ts), and a replay meanwhile is 409 (`inlineAttempt`).
 */
export const INLINE_LEASE_MS = 60_000;
/** How long a request (or the retry job) waits for the claim another holds to be let go. */
const WAIT_MS = 30_000;
const POLL_MS = 20;

const iso = (ms: number) => new Date(ms).toISOString();

/** The claim `held` when it still holds at `now`, else null. */
export function liveClaim(
  held: Deno.KvEntryMaybe<WebhookEventClaim>,
  now: number,
): WebhookEventClaim | null {
  return held.value && held.value.until > now ? held.value : null;
}

export function newClaim(
  clock: Deps["clock"],
  kind: WebhookEventClaim["kind"],
  by: string,
  force = false,
): WebhookEventClaim {
  const at = clock.now();
  return { id: crypto.randomUUID(), kind, by, force, at, until: at + CLAIM_MS };
}

/**
 * Since when the attempt right after intake may be processing `record`, or
 * null: the record is as the intake stored it (`received`, no attempt
 * recorded, a job) and that attempt's lease has not run out. An attempt that
 * ended records itself (`processed`, `ignored`, or `failed` with one attempt);
 * one whose process stopped is taken over when its lease runs out.
 */
export function inlineAttempt(record: WebhookEventRecord, now: number): number | null {
  const untouched = record.status === "received" && record.attempts === 0 &&
    record.job_id !== null;
  return untouched && now < record.received_at + INLINE_LEASE_MS ? record.received_at : null;
}

/** 409: the attempt right after intake may still be processing the event (`inlineAttempt`). */
export function inlineBusyError(record: WebhookEventRecord): AppError {
  const { id, received_at: at } = record;
  return new AppError(
    "conflict",
    `webhook event ${id} is being processed by its first attempt, right after it arrived, ` +
      `since ${iso(at)}; read it in a moment (GET /api/admin/payments/webhook-events/${id}): ` +
      "that attempt records its outcome there, and a failure is retried by its job; should it " +
      `never end (its process stopped), its retry job takes it over at ` +
      `${iso(at + INLINE_LEASE_MS)}, and a replay may be sent from then`,
  );
}

/** 409: `claim` is processing the event now; who ("you" to them) and since when. */
export function busyError(id: string, claim: WebhookEventClaim, ctx: CallContext): AppError {
  const read = `read it in a moment (GET /api/admin/payments/webhook-events/${id})`;
  if (claim.kind === "retry") {
    return new AppError(
      "conflict",
      `webhook event ${id} is being processed by its retry since ${iso(claim.at)}; ${read}`,
    );
  }
  const who = claim.by === ctx.actor.id ? `you (${claim.by})` : claim.by;
  return new AppError(
    "conflict",
    `webhook event ${id} is being replayed by ${who} since ${iso(claim.at)}` +
      `${claim.force ? " (forced)" : ""}; ${read}`,
  );
}

/** Takes `claim` when the record is still `judged` and nothing else holds one; else false. */
export async function takeClaim(
  kv: Deno.Kv,
  judged: Deno.KvEntry<WebhookEventRecord>,
  held: Deno.KvEntryMaybe<WebhookEventClaim>,
  claim: WebhookEventClaim,
): Promise<boolean> {
  const op = kv.atomic().check(judged);
  addClaim(op, held, judged.value.id, claim, CLAIM_MS);
  return (await op.commit()).ok;
}

/** Lets `claim` go when it is still held (after a failure that recorded nothing). */
export async function releaseClaim(kv: Deno.Kv, id: string, claim: WebhookEventClaim) {
  const op = kv.atomic();
  await addClaimRelease(kv, op, id, claim);
  await op.commit();
}

/** Waits until `claimId` no longer holds the event (let go, or its time ran out). */
export async function waitForRelease(
  kv: Deno.Kv,
  clock: Deps["clock"],
  id: string,
  claimId: string,
): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < WAIT_MS) {
    const held = await getClaim(kv, id);
    if (held.value?.id !== claimId || !liveClaim(held, clock.now())) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Runs the retry job's `attempt` under the event's claim (the attempt lets it
 * go in the commit recording its outcome; a throw lets it go here); null when
 * the event needs no processing (gone, processed or ignored, by a replay it
 * waited for, say). Throws when a replay still holds it after a wait: the job
 * is tried again later.
 */
export async function underRetryClaim<T>(
  kv: Deno.Kv,
  clock: Deps["clock"],
  id: string,
  attempt: (record: WebhookEventRecord, claim: WebhookEventClaim) => Promise<T>,
): Promise<T | null> {
  const claimed = await claimForRetry(kv, clock, id);
  if (!claimed) return null;
  try {
    return await attempt(claimed.record, claimed.claim);
  } catch (error) {
    await releaseClaim(kv, id, claimed.claim).catch(() => {}); // else it lapses by itself
    throw error;
  }
}

async function claimForRetry(
  kv: Deno.Kv,
  clock: Deps["clock"],
  id: string,
): Promise<{ claim: WebhookEventClaim; record: WebhookEventRecord } | null> {
  let waited: string | null = null;
  for (let round = 0; round < 10; round++) {
    const [judged, held] = await Promise.all([getEvent(kv, id), getClaim(kv, id)]);
    const record = judged.value;
    if (!record || record.status === "processed" || record.status === "ignored") return null;
    const live = liveClaim(held, clock.now());
    if (live) {
      if (waited === live.id) {
        throw new Error(`webhook event ${id} is still claimed (${live.kind} by ${live.by})`);
      }
      waited = live.id;
      await waitForRelease(kv, clock, id, live.id);
      continue;
    }
    const claim = newClaim(clock, "retry", "webhook.process");
    if (await takeClaim(kv, judged as Deno.KvEntry<WebhookEventRecord>, held, claim)) {
      return { claim, record };
    }
  }
  throw new Error(`webhook event ${id} kept changing while its retry tried to claim it`);
}
