/**
 * Customers in KV: the Stripe customer as last seen, the append-only ledger,
 * the balance per currency (always the sum of that currency's entries), the
 * aggregates the fraud rules read, and the index of open fraud alerts.
 */
import { keys } from "./keys.ts";
import { getManyChunked } from "./atomic.ts";
import { type CursorSealer, listPage, type Page } from "./pagination.ts";
import type { PaymentMethodSummary } from "../domain/transaction.ts";
import type { FraudHistory } from "../domain/fraud_history.ts";

export interface SavedPaymentMethod extends PaymentMethodSummary {
  id: string;
  /** ISO 8601 */
  attached_at: string;
}

export interface CustomerRecord {
  id: string;
  email: string | null;
  name: string | null;
  phone: string | null;
  description: string | null;
  /** ISO 8601; null until Stripe's customer object has been seen */
  created: string | null;
  deleted: boolean;
  payment_methods: SavedPaymentMethod[];
  /** place of the last applied customer event (`[created, kind]`) */
  order: number[];
  events: string[];
  updated_at: string;
}

export type LedgerEntryType =
  | "payment"
  | "refund"
  | "refund_reversal"
  | "dispute_withdrawal"
  | "dispute_reinstatement";

export interface LedgerEntry {
  id: string;
  customer: string;
  type: LedgerEntryType;
  /** signed, minor units: what the customer paid in is positive, what went back negative */
  amount: number;
  currency: string;
  transaction_id: string;
  /** the Stripe object behind it: `ch_…`/`pi_…`, `re_…`, `du_…` */
  stripe_object: string;
  /** ISO 8601 */
  at: string;
}

export interface CustomerBalance {
  customer: string;
  currency: string;
  amount: number;
  /** how many entries make it, to check `amount` against the ledger */
  entries: number;
  updated_at: string;
}

export interface HourBucket {
  payments: number;
  failures: number;
  /** sum of successful payment amounts per currency */
  amounts: Record<string, number>;
  declines: Record<string, number>;
}

/** Welford's running mean and variance of successful payment amounts, per currency. */
export interface AmountStats {
  n: number;
  mean: number;
  m2: number;
}

/** One currency's balance, as kept in the customer's counters record. */
export interface BalanceCounter {
  amount: number;
  entries: number;
  updated_at: string;
}

/**
 * The customer's counters, one record written in the commit that changes
 * any of them: the balance per currency and the aggregates the fraud rules
 * read. One key, so a payment moves both with one write and one check.
 */
export interface CustomerAggregates {
  customer: string;
  /** currency -> balance: always the sum of that currency's ledger entries (absent: none yet) */
  balances?: Record<string, BalanceCounter>;
  /** hour start (ms, as a string) -> counts, for the last `AGGREGATE_WINDOW_HOURS` */
  hours: Record<string, HourBucket>;
  /** payment method fingerprint -> last seen (ms) */
  fingerprints: Record<string, number>;
  amount_stats: Record<string, AmountStats>;
  totals: {
    payments: number;
    failures: number;
    declines_by_code: Record<string, number>;
    early_fraud_warnings: number;
    reviews_opened: number;
    disputes: number;
  };
  /** the recent attempts the fraud rules count in (domain/fraud_history.ts) */
  fraud?: FraudHistory;
  updated_at: string;
}

export function getCustomer(kv: Deno.Kv, id: string) {
  return kv.get<CustomerRecord>(keys.customer(id));
}

export function getAggregates(kv: Deno.Kv, customer: string) {
  return kv.get<CustomerAggregates>(keys.customerAggregates(customer));
}

/** The balances in a counters record, as the API shows them, by currency. */
export function balancesOf(aggregates: CustomerAggregates | null): CustomerBalance[] {
  return Object.entries(aggregates?.balances ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([currency, b]) => ({ customer: aggregates!.customer, currency, ...b }));
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
): Promise<unknown[]> {
  const ids: string[] = [];
  const rows = kv.list<string>({ prefix: keys.fraudAlertsByCustomerPrefix(customer) }, {
    limit,
    reverse: true,
  });
  for await (const row of rows) ids.push(row.value);
  const alerts = await getManyChunked<unknown>(kv, ids.map((id) => keys.fraudAlert(id)));
  return alerts.filter((a) => a.value !== null).map((a) => a.value);
}
