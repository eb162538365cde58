/**
 * Fraud alert fixtures: the dependencies `raiseAlerts` takes, drawn from a
 * test app, and a velocity hit on one transaction.
 */
import type { Signal } from "../../domain/fraud.ts";
import { type AlertTarget, raiseAlerts, type RaiseDeps } from "../../services/fraud/alerts.ts";
import { systemContext } from "../../domain/actor.ts";
import type { TestApp } from "./app.ts";
import type { FraudAlert } from "../../domain/fraud.ts";
import { addCustomer } from "../../kv/customers.ts";
import { emptyCustomer } from "../../services/ingest/customers.ts";
import { addCardHistory } from "../../kv/fraud.ts";
import { emptyHistory } from "../../domain/fraud_history.ts";

/** What `raiseAlerts` needs, from the test app's KV, audit, ids and manual clock. */
export function raiseDeps(t: TestApp): RaiseDeps {
  return {
    kv: t.kv,
    audit: t.services.audit,
    newId: t.services.newId,
    now: () => t.clock.now(),
  };
}

/** An alert target for one customer, with no card and no linked customers. */
export function customerTarget(customer: string): AlertTarget {
  return { subject: customer, customer, card_fingerprint: null, customers: [] };
}

/** A live alert-level velocity hit on `transactionId` at `at`. */
export function velocityHit(
  transactionId: string,
  at: string,
  evidence: Record<string, unknown> = {},
): Signal {
  return {
    rule: "velocity",
    level: "alert",
    points: 50,
    severity: "high",
    transaction_id: transactionId,
    at,
    rule_version: 1,
    shadow: false,
    evidence,
  };
}

/** Customers the service has seen (a snooze names one it knows), as a customer event leaves them. */
export async function knownCustomers(kv: Deno.Kv, ...ids: string[]): Promise<void> {
  for (const id of ids) {
    const op = kv.atomic();
    addCustomer(op, emptyCustomer(id, Date.UTC(2026, 0, 1)));
    await op.commit();
  }
}

/** One velocity alert raised for `customer` now, as the engine raises it; its id. */
export async function oneAlert(t: TestApp, customer: string): Promise<string> {
  const r = await raiseAlerts(
    raiseDeps(t),
    systemContext("test"),
    customerTarget(customer),
    [velocityHit(`txn_${customer}`, new Date(t.clock.now()).toISOString())],
    () => ({}),
  );
  return r.alerts[0];
}

/** Every fraud alert, through the service's pages (newest first). */
export async function allFraudAlerts(t: TestApp): Promise<FraudAlert[]> {
  const out: FraudAlert[] = [];
  let cursor: string | undefined;
  do {
    const page = await t.services.fraud.listAlerts({ limit: 100, cursor });
    out.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/** Cards the service has seen paying without a customer (their `card:<fp>` history), as ingest leaves them. */
export async function knownCards(kv: Deno.Kv, ...fingerprints: string[]): Promise<void> {
  for (const fp of fingerprints) {
    const op = kv.atomic();
    addCardHistory(op, fp, { ...emptyHistory(`card:${fp}`), changed_at: Date.UTC(2026, 0, 1) });
    await op.commit();
  }
}

/** An alert target for a card subject (`card:<fp>`), naming `customers`. */
export function cardTarget(fingerprint: string, customers: string[] = []): AlertTarget {
  return {
    subject: `card:${fingerprint}`,
    customer: null,
    card_fingerprint: fingerprint,
    customers,
  };
}
