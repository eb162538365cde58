/**
 * Seeding the demo account once per store (README, Quick start), and telling
 * the person how it goes: one progress line with pretty logs, two log lines
 * (the start and the end, with the counts) with JSON logs.
 */
import type { Logger } from "../core/log.ts";
import type { Services } from "../services/mod.ts";
import { runDisputeReminders } from "../services/disputes/mod.ts";
import {
  type DemoEmulatorControls,
  EXTRA_DEMO_CUSTOMERS,
  seedDemoAccount,
  seedDemoDisputes,
  type SeedSummary,
} from "../services/demo_seed.ts";
import type { StatusLine } from "./status_line.ts";

/** The customers with ordinary payments the demo seeds. */
export const DEMO_CUSTOMERS = 30;

/** What the seeding tells as it goes: customers made of all it makes, and the phase after them. */
export interface SeedProgress {
  update(done: number, total: number, phase?: string): void;
  done(summary: SeedSummary | null): void;
}

/**
 * Seeds the account through the emulator's Stripe API, then makes the dispute due within 24 h
 * an ops alert now, not at the cron's next quarter hour. The summary counts everything seeded.
 */
export async function seedDemoData(
  services: Services,
  emulator: DemoEmulatorControls,
  log: Logger,
  progress: SeedProgress,
  customerCount = DEMO_CUSTOMERS,
): Promise<SeedSummary> {
  // the count the summary gives: every customer made, the card tester and the dispute one too
  const total = customerCount + EXTRA_DEMO_CUSTOMERS;
  let made = 0;
  // Seeding goes through the rate-limited gateway while the server already serves.
  const summary = await seedDemoAccount(
    services.deps.stripe,
    log,
    customerCount,
    () => progress.update(++made, total),
  );
  progress.update(made, total, "disputes");
  const disputes = await seedDemoDisputes(
    services.deps.stripe,
    emulator,
    log,
    () => progress.update(++made, total, "disputes"),
  );
  await services.webhooks.drain();
  await runDisputeReminders(services);
  const all = {
    ...summary,
    customers: summary.customers + disputes.customers,
    payments: summary.payments + disputes.payments,
    disputed: summary.disputed + disputes.disputed,
  };
  progress.done(all);
  return all;
}

/**
 * One line that counts up (redrawn on a terminal; otherwise printed at the start and the end).
 */
export function seedProgress(screen: StatusLine): SeedProgress {
  if (screen.terminal) screen.show("seeding the demo account through the emulator...");
  else screen.line("seeding the demo account through the emulator...");
  return {
    update(done, total, phase) {
      screen.show(
        `seeding the demo account: ${done}/${total} customers${phase ? `, ${phase}` : ""}`,
      );
    },
    done(summary) {
      screen.end(
        summary
          ? `seeded the demo account: ${summary.customers} customers, ${summary.payments} ` +
            `payments, ${summary.declined} declined, ${summary.refunded} refunded, ` +
            `${summary.disputed} disputed`
          : "seeding the demo account failed (see the log)",
      );
    },
  };
}

/** The same progress as JSON log lines: the start and the end, no line per customer. */
export function seedLog(log: Logger): SeedProgress {
  log.info("seeding the demo account through the emulator");
  return {
    update() {},
    done(summary) {
      if (summary) log.info("seeded the demo account", { ...summary });
    },
  };
}
