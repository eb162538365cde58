/**
 * Customers: Stripe's customer objects and attached payment methods as
 * webhooks report them, and GET /customers/{id} (ledger, balances,
 * aggregates, open alerts).
 */
import type { Deps } from "./deps.ts";
import { notFound } from "../core/errors.ts";
import type { CursorSealer, Page } from "../kv/pagination.ts";
import { getAggregates, getCustomer, listLedger, listOpenAlerts } from "../kv/customers.ts";
import {
  balancesOf,
  type CustomerBalance,
  type LedgerEntry,
  type SavedPaymentMethod,
} from "../domain/customer.ts";
import { aggregatesView, emptyCustomer } from "./ingest/mod.ts";
import { resolveMergedIds } from "../kv/transactions.ts";
import type { FraudAlert } from "../domain/fraud.ts";

const OPEN_ALERTS_SHOWN = 50;

export type { CustomerRecord } from "../domain/customer.ts";

export function maskEmail(email: string | null): string | null {
  if (!email) return null;
  const at = email.lastIndexOf("@");
  if (at < 1) return "***";
  return `${email[0]}***${email.slice(at)}`;
}

export interface CustomerView {
  customer: {
    id: string;
    email: string | null;
    name: string | null;
    description: string | null;
    created: string | null;
    deleted: boolean;
    payment_methods: SavedPaymentMethod[];
  };
  balances: Pick<CustomerBalance, "currency" | "amount" | "entries">[];
  ledger: Page<LedgerEntry>;
  aggregates: ReturnType<typeof aggregatesView>;
  open_alerts: (FraudAlert | FraudAlertSummary)[];
}

/**
 * How the open alerts are shown: `full` (the alert: signals, evidence,
 * snapshot, the customers a card alert names) to roles that read alerts,
 * `summary` (id, rule, severity, status, as the transaction page shows them)
 * to the others (README "Security": roles).
 */
export type AlertsShown = "full" | "summary";

export type FraudAlertSummary = Pick<FraudAlert, "id" | "rule" | "severity" | "status">;

function alertSummary(a: FraudAlert): FraudAlertSummary {
  return { id: a.id, rule: a.rule, severity: a.severity, status: a.status };
}

export function createCustomerService(deps: Deps, svc: { cursors: CursorSealer }) {
  const { kv, clock } = deps;

  /** The customer's page; `cursor` pages the ledger (newest first). */
  async function get(
    id: string,
    page: { limit: number; cursor?: string },
    shown: AlertsShown = "full",
  ): Promise<CustomerView> {
    const [record, aggregates, ledger, alerts] = await Promise.all([
      getCustomer(kv, id),
      getAggregates(kv, id),
      listLedger(kv, svc.cursors, id, page),
      listOpenAlerts(kv, id, OPEN_ALERTS_SHOWN),
    ]);
    const balances = balancesOf(aggregates.value);
    if (!record.value && !aggregates.value) {
      throw notFound("customer", id);
    }
    const r = record.value ?? emptyCustomer(id, clock.now());
    return {
      customer: {
        id,
        email: maskEmail(r.email),
        name: r.name,
        description: r.description,
        created: r.created,
        deleted: r.deleted,
        payment_methods: r.payment_methods,
      },
      balances: balances.map((b) => ({
        currency: b.currency,
        amount: b.amount,
        entries: b.entries,
      })),
      ledger: await underMergedIds(ledger),
      aggregates: aggregatesView(aggregates.value, clock.now()),
      open_alerts: shown === "full" ? alerts : alerts.map(alertSummary),
    };
  }

  /**
   * The ledger is append-only: a line posted by a stub names the stub, which
   * may since have merged into its payment's transaction (README "Transactions
   * and money edges"). Each line is shown under the transaction it belongs to
   * now, so every delivery order shows the same lines under the same id.
   */
  async function underMergedIds(page: Page<LedgerEntry>): Promise<Page<LedgerEntry>> {
    const into = await resolveMergedIds(kv, page.data.map((e) => e.transaction_id));
    if (!into.size) return page;
    const data = page.data.map((e) => {
      const id = into.get(e.transaction_id);
      return id ? { ...e, transaction_id: id } : e;
    });
    return { ...page, data };
  }

  /** The raw aggregates, for the fraud rules (services/ingest/aggregates.ts reads them). */
  async function aggregates(id: string) {
    return (await getAggregates(kv, id)).value;
  }

  return { get, aggregates };
}

export type CustomerService = ReturnType<typeof createCustomerService>;
