/**
 * Client code as an integrator would write it: `openapi-fetch` typed by the
 * types `openapi-typescript` generates from openapi/openapi.json (into
 * api.gen.ts, by tests/typed_client_test.ts). If the document changes in a way
 * that breaks such code, `deno check` of this file fails.
 */
import createClient from "openapi-fetch";
import type { paths } from "./api.gen.ts";

/** A refund's approval as the document types it. */
type RefundApproval = NonNullable<
  paths["/api/admin/payments/refunds/{id}/approve"]["post"]["requestBody"]
>["content"]["application/json"];

// An approver approves exactly what they read, by its `approval.hash` (README, "A first
// session"): a body without it does not compile, one with it does.
// @ts-expect-error approval_hash is required
const _unread: RefundApproval = { note: "looks fine" };
export const readApproval: RefundApproval = { approval_hash: "0".repeat(64), note: "read" };

export interface DriveResult {
  role: string | undefined;
  transactions: number | undefined;
  refundStatus: number;
  refundCode: string | undefined;
  notFoundCode: string | undefined;
  notFoundType: string | undefined;
}

export async function drive(
  fetchFn: (request: Request) => Promise<Response>,
  token: string,
  otpCode: string,
): Promise<DriveResult> {
  const client = createClient<paths>({ baseUrl: "http://payops.test", fetch: fetchFn });
  const auth = { authorization: `Bearer ${token}` };
  const me = await client.GET("/api/admin/me", { headers: auth });
  const page = await client.GET("/api/admin/payments/transactions", {
    params: { query: { limit: 5 } },
    headers: auth,
  });
  const refund = await client.POST("/api/admin/payments/refunds", {
    params: { header: { "idempotency-key": "typed-client-1" } },
    body: {
      transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
      reason: "requested_by_customer",
      note: "typed client",
    },
    headers: { ...auth, "x-otp-code": otpCode },
  });
  const missing = await client.GET("/api/admin/payments/refunds/{id}", {
    params: { path: { id: "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" } },
    headers: auth,
  });
  return {
    role: me.data?.role,
    transactions: page.data?.data.length,
    refundStatus: refund.response.status,
    refundCode: refund.error?.code,
    notFoundCode: missing.error?.code,
    notFoundType: missing.error?.type,
  };
}
