/**
 * Customers in KV: the Stripe customer as last seen, the append-only ledger,
 * the balance per currency (always the sum of that currency's entries), the
 * aggregates the fraud rules read, and the index of open fraud alerts.
 */
import type { FraudAlert } from "../domain/fraud.ts";
import { keys } from "./keys.ts";
import { getManyChunked } from "./atomic.ts";
import { type CursorSealer, listPage, type Page } from "./pagination.ts";
import {
  balancesOf,
  type CustomerAggregates,
  type CustomerBalance,
  type CustomerRecord,
  type LedgerEntry,
} from "../domain/customer.ts";

export function getCustomer(kv: Deno.Kv, id: string) {
  return kv.get<CustomerRecord>(keys.customer(id));
}

export function getAggregates(kv: Deno.Kv, customer: string) {
  return kv.get<CustomerAggregates>(keys.customerAggregates(customer));
}

export async function listBalances(kv: Deno.Kv, customer: string): Promise<CustomerBalance[]> {
  return balancesOf((await getAggregates(kv, customer)).value);
}

export function addLedgerEntry(op: Deno.AtomicOperation, entry: LedgerEntry): void {
  op.set(keys.ledgerEntry(entry.customer, entry.id), entry);
}

export function addCustomer(op: Deno.AtomicOperation, record: CustomerRecord): void {
  op.set(keys.customer(record.id), record);
}

export function addAggregates(op: Deno.AtomicOperation, aggregates: CustomerAggregates): void {
  op.set(keys.customerAggregates(aggregates.customer), aggregates);
}

/** Removes the counters record (a customer left with nothing counted, posted or seen). */
export function addAggregatesDeletion(op: Deno.AtomicOperation, customer: string): void {
  op.delete(keys.customerAggregates(customer));
}

/** Newest first. */
export function listLedger(
  kv: Deno.Kv,
  sealer: CursorSealer,
  customer: string,
  page: { limit: number; cursor?: string },
): Promise<Page<LedgerEntry>> {
  return listPage<LedgerEntry>(kv, sealer, { prefix: keys.ledgerPrefix(customer) }, {
    ...page,
    scope: `ledger:${customer}`,
  });
}

/** Every entry, oldest first (checks and tests; a customer's ledger is small). */
export async function allLedgerEntries(kv: Deno.Kv, customer: string): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = [];
  for await (const row of kv.list<LedgerEntry>({ prefix: keys.ledgerPrefix(customer) })) {
    out.push(row.value);
  }
  return out;
}

/** The customer's open fraud alerts as the fraud service stores them (newest first). */
export async function listOpenAlerts(
  kv: Deno.Kv,
  customer: string,
  limit: number,
): Promise<FraudAlert[]> {
  const ids: string[] = [];
  const rows = kv.list<string>({ prefix: keys.fraudAlertsByCustomerPrefix(customer) }, {
    limit,
    reverse: true,
  });
  for await (const row of rows) ids.push(row.value);
  const alerts = await getManyChunked<FraudAlert>(kv, ids.map((id) => keys.fraudAlert(id)));
  return alerts.flatMap((a) => a.value ? [a.value] : []);
}
