/**
 * The fault suite's route side (tests/fault_suite_authorizations_test.ts,
 * tests/fault_suite_actions_test.ts): calling the admin API as an operator
 * would under faults, the process "dying" in a request (which then answers
 * nothing), and reading the audit trail.
 */
import assert from "node:assert/strict";
import type { AuditEntry } from "../../domain/audit_entry.ts";
import type { StripeGateway } from "../../services/stripe/gateway.ts";
import type { RefundWorld } from "./refunds.ts";
import type { RetryWorld } from "./retries.ts";
import { API } from "./disputes.ts";
import { jsonRequest, type TestAdmin } from "./identity.ts";
import { deathGateway, ProcessDeath, type Rng } from "./faults.ts";

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** Whether the process "died" in the request: then it answered nothing (the 500 is no answer). */
const deaths = { fired: 0 };

/** A route call with a step-up token (and an Idempotency-Key, when given); null if it died. */
export async function send(
  w: RetryWorld,
  r: Rng,
  path: string,
  body: unknown,
  key?: string,
  as: TestAdmin = r.pick([w.operator, w.operator2]),
) {
  const headers = { ...await w.stepUp(as), ...(key ? { "idempotency-key": key } : {}) };
  const before = deaths.fired;
  const url = path.startsWith("/api/") ? path : `${API}${path}`;
  const res = await w.t.app.request(url, jsonRequest("POST", headers, body));
  const answer: Answer = { status: res.status, body: await res.json(), headers: res.headers };
  if (answer.status === 500 && deaths.fired > before) return null;
  assert.ok(answer.status < 500 || answer.status === 503, JSON.stringify(answer.body));
  return answer;
}

/** Arms a death that throws from inside the service (the refunds' seam). */
export function dieAfter(hooks: { afterStripeCall?: (...args: never[]) => unknown }) {
  return () => {
    hooks.afterStripeCall = () => {
      hooks.afterStripeCall = undefined;
      deaths.fired++;
      throw new ProcessDeath();
    };
  };
}

/** Every admin's step-up token, one after the other, before a double click (a code is used once). */
export async function stepUpAll(w: RetryWorld) {
  for (const as of [w.operator, w.operator2, w.admin]) await w.stepUp(as);
}

/** Every audit entry of one action name. */
export async function audited(w: RefundWorld, action: string): Promise<AuditEntry[]> {
  return (await w.t.services.audit.list({ action, limit: 100 })).data;
}

/** The fault suite's death at the gateway, counted in `deaths`. */
export function dying(label: RegExp) {
  const death = deathGateway(label);
  const intercept = (real: StripeGateway): StripeGateway => {
    const inner = death.intercept(real);
    return {
      call: (fn, options) =>
        inner.call(fn, options).catch((error: unknown) => {
          if (error instanceof ProcessDeath) deaths.fired++;
          throw error;
        }),
    };
  };
  return { state: death.state, intercept };
}

/** A key from a small pool (the same click sent again), or none. */
export function someKey(r: Rng, prefix: string): string | undefined {
  return r.chance(0.5) ? `${prefix}-${r.int(2)}` : undefined;
}
