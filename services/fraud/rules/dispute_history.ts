/**
 * Disputes on the customer's payments in the window, counted at each
 * dispute's own time, from the subject's history: the ingest commit that
 * records a dispute (charge.dispute.*) adds it there, so counting needs no
 * per-customer index of dispute records.
 */
import { inWindow, levelOf, type MarkInput, signal, someIds, windowMs } from "./common.ts";
import type { Signal } from "../../../domain/fraud.ts";

export function disputeHistory({ mark, history, settings }: MarkInput): Signal | null {
  const recent = inWindow(history.disputes, mark.t, windowMs(settings));
  const level = levelOf(settings, recent.length);
  if (!level) return null;
  return signal(settings, level, mark, {
    disputes: recent.length,
    dispute_ids: recent.map((d) => d.k).slice(-20),
    reasons: recent.map((d) => d.d).slice(-20),
    window_minutes: settings.window_minutes,
    transactions: someIds(recent),
  });
}
