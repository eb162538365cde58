/**
 * Demo mode's account: created through the emulator's Stripe API with the
 * gateway, so the service learns it only through signed webhooks, exactly as
 * it would in production. Customers with ordinary payments, declines, a
 * refund made "in the Dashboard", an open dispute, risky cards, and a
 * card-testing burst on one customer.
 */
import type Stripe from "stripe";
import { type StripeGateway } from "./stripe/mod.ts";
import type { Logger } from "../core/log.ts";

const FIRST = [
  "Ada",
  "Grace",
  "Alan",
  "Edsger",
  "Barbara",
  "Donald",
  "Frances",
  "Ken",
  "Radia",
  "Tim",
];
const LAST = [
  "Lovelace",
  "Hopper",
  "Turing",
  "Dijkstra",
  "Liskov",
  "Knuth",
  "Allen",
  "Thompson",
  "Perlman",
];
// Ordinary payments spread over several cards (each its own fingerprint): the refund threshold
// counts an operator's refunds on a payment's card too (README, "Refund approval policy").
// Each customer pays from one wallet of WALLET cards, so no customer uses more distinct cards
// than one wallet holds (payment_method_churn counts them).
const WALLET = 3;
const GOOD_CARDS = [
  "pm_card_visa",
  "pm_card_mastercard",
  "pm_card_visa_debit",
  "pm_card_discover",
  "pm_card_mastercard_debit",
  "pm_card_jcb",
  "pm_card_diners",
  "pm_card_mastercard_prepaid",
  "pm_card_unionpay",
];
/** The 1,200.00 payment's card, which no other seeded payment uses. */
const LARGE_PAYMENT_CARD = "pm_card_amex";
const DECLINES = [
  "pm_card_chargeDeclined",
  "pm_card_chargeDeclinedInsufficientFunds",
  "pm_card_chargeDeclinedLostCard",
];
const TESTING_CARDS = [
  "4000000000000002",
  "4000000000009995",
  "4000000000009987",
  "4000000000009979",
  "4242424242424242",
  "5555555555554444",
];

export interface SeedSummary {
  customers: number;
  payments: number;
  declined: number;
  refunded: number;
  disputed: number;
}

/** A deterministic pseudo-random sequence, so every demo looks the same. */
function sequence(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/** Calls Stripe at background priority, and pays while counting payments and declines. */
function seeder(stripe: StripeGateway, summary: SeedSummary) {
  const call = <T>(fn: (s: Stripe) => Promise<T>) =>
    stripe.call(fn, { priority: "background", label: "demo.seed", quiet: true });

  const pay = async (customer: string, pm: string, amount: number, description: string) => {
    try {
      const pi = await call((s) =>
        s.paymentIntents.create({
          amount,
          currency: "usd",
          customer,
          payment_method: pm,
          confirm: true,
          description,
        })
      );
      summary.payments++;
      return pi;
    } catch {
      summary.declined++; // a decline is a 402 from Stripe; the PI and its failed charge still exist
      return null;
    }
  };
  return { call, pay, summary };
}

type Seeder = ReturnType<typeof seeder>;

/**
 * Customers the demo makes besides the `customerCount` with ordinary payments: the card tester
 * (`seedDemoAccount`) and the dispute customer (`seedDemoDisputes`), so a progress count can
 * name the whole.
 */
export const EXTRA_DEMO_CUSTOMERS = 2;

/** Customers with one to three good payments each, and now and then a decline. */
async function seedCustomers(
  seed: Seeder,
  customerCount: number,
  onCustomer: () => void,
): Promise<string[]> {
  const { call, pay, summary } = seed;
  const rand = sequence(42);
  const customers: string[] = [];
  for (let i = 0; i < customerCount; i++) {
    const name = `${FIRST[i % FIRST.length]} ${LAST[(i * 7) % LAST.length]}`;
    const c = await call((s) =>
      s.customers.create({
        name,
        email: `${name.toLowerCase().replace(" ", ".")}.${i}@example.com`,
        metadata: { demo: "true" },
      })
    );
    customers.push(c.id);
    summary.customers++;
    const payments = 1 + Math.floor(rand() * 3);
    const wallets = GOOD_CARDS.length / WALLET;
    const wallet = GOOD_CARDS.slice((i % wallets) * WALLET, (i % wallets + 1) * WALLET);
    for (let p = 0; p < payments; p++) {
      const amount = 500 + Math.floor(rand() * 40) * 250;
      await pay(
        c.id,
        wallet[Math.floor(rand() * WALLET)],
        amount,
        `Order #${1000 + i * 10 + p}`,
      );
    }
    if (rand() < 0.25) {
      await pay(
        c.id,
        DECLINES[Math.floor(rand() * DECLINES.length)],
        4900,
        `Order #${1000 + i * 10 + 9}`,
      );
    }
    onCustomer();
  }
  return customers;
}

/** A Dashboard refund, a dispute, risky payments and a large one, on the first customers. */
async function seedSpecialCases({ call, pay, summary }: Seeder, customers: string[]) {
  // A refund made outside the service (as if in the Stripe Dashboard).
  const refunded = await pay(customers[0], "pm_card_visa", 12_000, "Annual plan");
  if (refunded) {
    await call((s) =>
      s.refunds.create({
        payment_intent: refunded.id,
        amount: 4_000,
        reason: "requested_by_customer",
      })
    );
    summary.refunded++;
  }
  // An open dispute, and risky payments for the fraud views.
  if (await pay(customers[1], "pm_card_createDispute", 8_900, "Headphones")) summary.disputed++;
  await pay(customers[2], "pm_card_riskLevelElevated", 15_000, "Gift cards");
  await pay(customers[2], "pm_card_riskLevelHighest", 25_000, "Gift cards");
  // A large payment, so a refund of it needs a second approver (REFUND_APPROVAL_THRESHOLD);
  // on a card of its own, so that refund waiting counts toward no other customer's payments.
  await pay(customers[3], LARGE_PAYMENT_CARD, 120_000, "Enterprise licence");
}

/** Card testing: many small attempts with different cards in a short burst. */
async function seedCardTesting({ call, pay, summary }: Seeder, onCustomer: () => void) {
  const tester = await call((s) =>
    s.customers.create({
      name: "Card Tester",
      email: "tester@example.net",
      metadata: { demo: "true" },
    })
  );
  summary.customers++;
  onCustomer();
  for (let i = 0; i < 12; i++) {
    const number = TESTING_CARDS[i % TESTING_CARDS.length];
    const pm = await call((s) =>
      s.paymentMethods.create({
        type: "card",
        card: { number, exp_month: 12, exp_year: 2030, cvc: "123" },
      } as Stripe.PaymentMethodCreateParams)
    );
    await pay(tester.id, pm.id, 100 + i, "Donation");
  }
}

export async function seedDemoAccount(
  stripe: StripeGateway,
  log: Logger,
  customerCount = 30,
  /** after each customer made */
  onCustomer: () => void = () => {},
): Promise<SeedSummary> {
  const summary: SeedSummary = { customers: 0, payments: 0, declined: 0, refunded: 0, disputed: 0 };
  const seed = seeder(stripe, summary);
  const customers = await seedCustomers(seed, customerCount, onCustomer);
  await seedSpecialCases(seed, customers);
  await seedCardTesting(seed, onCustomer);
  log.debug("demo account seeded", { ...summary });
  return summary;
}

/** The emulator's controls the dispute seeding needs (cli/demo.ts hands them in). */
export interface DemoEmulatorControls {
  advanceClock(seconds: number): void;
  resolveDispute(id: string, outcome: "won" | "lost"): unknown;
  deliveries(): Promise<void>;
}

/** What the dispute seeding added to the account: one customer and its disputed payments. */
export type DisputeSeedSummary = Pick<SeedSummary, "customers" | "payments" | "disputed">;

/**
 * Disputes in several states for the workbench: one due within 24 h (opened
 * six and a half days "ago" on the emulator's clock), an inquiry, and one
 * won after evidence was submitted.
 */
export async function seedDemoDisputes(
  stripe: StripeGateway,
  emulator: DemoEmulatorControls,
  log: Logger,
  /** after its customer is made */
  onCustomer: () => void = () => {},
): Promise<DisputeSeedSummary> {
  const call = <T>(fn: (s: Stripe) => Promise<T>) =>
    stripe.call(fn, { priority: "background", label: "demo.seed_disputes", quiet: true });
  const customer = await call((s) =>
    s.customers.create({
      name: "Dana Dispute",
      email: "dana@example.com",
      metadata: { demo: "true" },
    })
  );
  const summary: DisputeSeedSummary = { customers: 1, payments: 0, disputed: 0 };
  onCustomer();
  const disputed = async (pm: string, amount: number, description: string) => {
    const pi = await call((s) =>
      s.paymentIntents.create({
        amount,
        currency: "usd",
        customer: customer.id,
        payment_method: pm,
        confirm: true,
        description,
      })
    );
    summary.payments++;
    await emulator.deliveries();
    const list = await call((s) => s.disputes.list({ payment_intent: pi.id }));
    if (list.data[0]) summary.disputed++;
    return list.data[0];
  };
  const back = Math.round(6.5 * 24 * 3600);
  emulator.advanceClock(-back);
  try {
    await disputed("pm_card_createDispute", 6_400, "Weekend stay");
  } finally {
    emulator.advanceClock(back);
  }
  await disputed("pm_card_createDisputeInquiry", 2_900, "Monthly plan");
  const won = await disputed("pm_card_createDispute", 11_000, "Camera");
  if (won) {
    await call((s) =>
      s.disputes.update(won.id, {
        evidence: { customer_name: "Dana Dispute", product_description: "Camera, delivered" },
        submit: true,
      })
    );
    emulator.resolveDispute(won.id, "won");
  }
  log.debug("demo disputes seeded", { disputes: summary.disputed });
  return summary;
}
