/**
 * The audit log's `target` filter (README "A first session", the audit log; "Inputs and
 * headers"): it takes every kind of id an entry's `target.id` holds, and nothing else, so a
 * cut-off id, an email or a word is 422 naming the forms rather than an empty page. A Stripe id
 * of a payment, refund or dispute stands for our record's id, which is what the entries name.
 */
import { z } from "@hono/zod-openapi";
import type { Services } from "../services/mod.ts";
import { AppError } from "../core/errors.ts";
import {
  CARD_SUBJECT,
  CUSTOMER,
  type IdForm,
  idRegExp,
  literal,
  PAYMENT,
  stripe,
  STRIPE_DISPUTE,
  STRIPE_REFUND,
} from "../openapi/ids.ts";
import { RULE_NAMES } from "../domain/fraud.ts";
import { PERMISSIONS } from "../domain/permissions.ts";
import { transactionFilterOf } from "./transactions.ts";

/** One of our ids an entry names: its prefix, whose it is, and the list that shows them. */
interface Ours {
  prefix: string;
  whose: string;
  shownBy: string;
}

// every kind the services write as `target` (README: each step is audited on what it acts on)
const OURS: Ours[] = [
  { prefix: "txn", whose: "a transaction's", shownBy: "GET /api/admin/payments/transactions" },
  { prefix: "rfd", whose: "a refund's", shownBy: "GET /api/admin/payments/refunds" },
  { prefix: "dsp", whose: "a dispute's", shownBy: "GET /api/admin/payments/disputes" },
  { prefix: "rty", whose: "a retry's", shownBy: "GET /api/admin/payments/retries" },
  { prefix: "apr", whose: "a two-person request's", shownBy: "GET /api/admin/approvals" },
  { prefix: "adm", whose: "an admin's", shownBy: "GET /api/admin/users" },
  { prefix: "fa", whose: "a fraud alert's", shownBy: "GET /api/admin/payments/fraud/alerts" },
  { prefix: "fsz", whose: "a snooze's", shownBy: "GET /api/admin/payments/fraud/snoozes" },
  { prefix: "sweep", whose: "a fraud sweep's", shownBy: "GET /api/admin/payments/fraud/sweeps" },
  { prefix: "ops", whose: "an ops alert's", shownBy: "GET /api/admin/payments/ops-alerts" },
];
const WEBHOOK_EVENT = stripe(["evt"], "a webhook event's");
const PAYMENT_METHOD = stripe(["pm"], "a payment method's");
const PERMISSION_NAMES = Object.keys(PERMISSIONS);

/** Every form `target` takes, one alternative each (the document's `pattern`). */
export const TARGET_FORMS: IdForm[] = [
  ...OURS.map((o) => ({ pattern: `${o.prefix}_[0-9A-Z]{26}`, words: `${o.whose} ${o.prefix}_…` })),
  PAYMENT,
  STRIPE_REFUND,
  STRIPE_DISPUTE,
  WEBHOOK_EVENT,
  PAYMENT_METHOD,
  CUSTOMER,
  CARD_SUBJECT,
  ...RULE_NAMES.map((name) => literal(name, "(a fraud rule)")),
  ...PERMISSION_NAMES.map((name) => literal(name, "(a permission)")),
];
const TARGET = idRegExp(TARGET_FORMS);

const list = (items: readonly string[]) =>
  `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;

/** Every form, in words: what a refused value is told. */
export const TARGET_HINT = "target must be the id of what an entry is about: one of ours (its " +
  "prefix, _ and 26 digits and capital letters): " +
  list(OURS.map((o) => `${o.whose} ${o.prefix}_…`)) + "; a Stripe id: a payment's pi_…, ch_… " +
  "or py_… (standing for its txn_…), a refund's re_… (for its rfd_…), a dispute's du_… or dp_… " +
  "(for its dsp_…), a webhook event's evt_…, a payment method's pm_… or a customer's cus_…; a " +
  "card's card:<fingerprint> (a card alert's subject); a fraud rule's name (" +
  list(RULE_NAMES) + "); or a permission an auth.forbidden entry names (" +
  list(PERMISSION_NAMES) + ")";

/** The message for `value`: one of our prefixes in another shape is named (cut off, mistyped). */
export function targetMessage(value: unknown): string {
  const text = typeof value === "string" ? value.trim() : "";
  const near = OURS.find((o) => text.startsWith(`${o.prefix}_`));
  if (!near) return TARGET_HINT;
  return `target: ${near.whose} id is ${near.prefix}_ and 26 digits and capital letters (as ` +
    `${near.shownBy} shows it); this one is cut off or mistyped`;
}

/** The `target` query parameter of the audit log's list and export. */
export const TargetQuery = z.string().trim().regex(TARGET, {
  error: (issue) => targetMessage(issue.input),
}).optional().openapi({
  param: { name: "target", in: "query" },
  description: "what the entries are about: our id (`rfd_…`, `txn_…`, `dsp_…`, `rty_…`, " +
    "`apr_…`, `adm_…`, `fa_…`, `fsz_…`, `sweep_…`, `ops_…`, the prefix and 26 digits and " +
    "capital letters); a payment's Stripe id (`pi_…`, `ch_…`, `py_…`) finds its transaction's " +
    "entries, a Stripe refund's (`re_…`) its refund's, a Stripe dispute's (`du_…`, `dp_…`) its " +
    "dispute's; a webhook event's `evt_…`, a payment method's `pm_…`, a customer's `cus_…`, a " +
    "card's `card:<fingerprint>`; a fraud rule's name (`velocity`); a permission named by " +
    "`auth.forbidden` entries (`refunds.create`); anything else is 422, e.g. `velocity`",
});

/**
 * The id the entries name for `ref`: a payment's Stripe id stands for its transaction (`txn_…`),
 * a refund's (`re_…`) for our refund (`rfd_…`), a dispute's (`du_…`, `dp_…`) for our dispute
 * (`dsp_…`); one not known here is itself.
 */
export async function targetFilterOf(services: Services, ref: string): Promise<string> {
  if (/^(pi|ch|py)_/.test(ref)) return await transactionFilterOf(services, ref);
  const find = ref.startsWith("re_")
    ? () => services.refunds.get(ref)
    : /^(du|dp)_/.test(ref)
    ? () => services.disputes.get(ref)
    : null;
  if (!find) return ref;
  try {
    return (await find()).id;
  } catch (error) {
    if (error instanceof AppError && error.code === "not_found") return ref;
    throw error;
  }
}
