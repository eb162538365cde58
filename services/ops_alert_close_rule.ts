/**
 * Who may not close an ops alert (README, "Ops alerts"): an alert about an
 * account, or about what an admin did to one, is there so the other admins
 * see it. So nobody closes one about their own account (`admin_id`), nor one
 * reporting what they did themselves (`acted_by`: an admin they disabled or
 * demoted, alone or on a request they asked for or approved), nor one whose
 * account or actor is linked to them as the two-person rules link accounts
 * (created, approved or enrolled one another, or a handler in common,
 * README "Two-person rules"). Alerts about money, events and deadlines name
 * nobody and are closed by any operator.
 */
import { AppError } from "../core/errors.ts";
import { linksOf, type Refusal } from "./approvals/rules.ts";
import type { OpsAlert } from "../kv/ops_alerts.ts";

/** Why `caller` may not close `alert`, or null. */
export async function closeRefusal(
  kv: Deno.Kv,
  alert: Pick<OpsAlert, "id" | "kind" | "admin_id" | "acted_by">,
  caller: string,
): Promise<Refusal | null> {
  const subject = alert.admin_id ?? null;
  const actors = (alert.acted_by ?? []).filter((a) => a !== subject);
  if (subject === null && actors.length === 0) return null;
  const refuse = (rule: string, reason: string, todo: string): Refusal => ({
    reason,
    error: new AppError("self_approval_forbidden", `${reason}; ${todo}`, { extra: { rule } }),
  });
  const another = "another admin, not linked to it, must close it";
  if (subject === caller) {
    return refuse(
      "self_approval_forbidden",
      `${alert.kind} ${alert.id} is about your own account (${caller}): it is there so the ` +
        "other admins see it",
      another,
    );
  }
  if (actors.includes(caller)) {
    return refuse(
      "self_approval_forbidden",
      `${alert.kind} ${alert.id} reports what you did (to ${subject}): it is there so the other ` +
        "admins see it",
      another,
    );
  }
  const others = subject === null ? actors : [subject, ...actors];
  const linked = await linksOf(kv, caller, others);
  const hit = others.find((o) => linked.has(o));
  if (!hit) return null;
  const who = hit === subject ? `${hit}, the account this alert is about` : `${hit}, who did it`;
  return refuse(
    "linked_account",
    `linked account: you and ${who}, created, approved or enrolled one another, or one person ` +
      "handed over both your credentials",
    "someone not linked to them must close it",
  );
}
