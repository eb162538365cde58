/** An early fraud warning from the card issuer is an alert of its own. */
import { type MarkInput, signal } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export function earlyFraudWarning({ mark, settings }: MarkInput): Signal | null {
  const [fraudType, flag] = mark.d.split(":");
  return signal(settings, "alert", mark, {
    early_fraud_warning: mark.k,
    fraud_type: fraudType,
    actionable: flag === "actionable",
    transactions: [mark.x],
  });
}
