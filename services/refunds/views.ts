/**
 * A refund as the API shows it, built from its schema's fields. The status is
 * the one it reads as now: a request past its approval deadline reads
 * `expired` before the expiry job ends it (README, "Two-person rules").
 */
import type { z } from "@hono/zod-openapi";
import { RefundDetailSchema, RefundSchema } from "../../openapi/record_schemas.ts";
import { type RefundRecord, statusAt } from "../../domain/refund.ts";

/** A refund as the API shows it: declared once, by its schema. */
export type RefundView = z.infer<typeof RefundSchema>;
export type RefundDetail = z.infer<typeof RefundDetailSchema>;

/**
 * The fields of the view that are the record's own, shown as they are (all but `approval`, and
 * `confirm_duplicate`, absent on older records).
 */
const PUBLIC_FIELDS = Object.keys(RefundSchema.shape).filter((k) =>
  k !== "approval" && k !== "confirm_duplicate"
) as (
  & keyof RefundRecord
  & keyof RefundView
)[];

/** The refund as it reads at `now`. */
export function refundView(r: RefundRecord, now: number): RefundView {
  const shown = Object.fromEntries(PUBLIC_FIELDS.map((k) => [k, r[k]])) as Omit<
    RefundView,
    "approval" | "confirm_duplicate"
  >;
  return {
    ...shown,
    status: statusAt(r, now),
    confirm_duplicate: r.confirm_duplicate ?? false,
    approval: {
      required: r.approval_reasons.length > 0,
      reasons: r.approval_reasons,
      detail: r.approval_detail ?? null,
      hash: r.approval_hash,
      expires_at: r.expires_at,
    },
  };
}

export function refundDetail(r: RefundRecord, now: number): RefundDetail {
  return { ...refundView(r, now), history: r.history };
}
