import type { StripeObject } from "./object.ts";

/** A Stripe-shaped error: thrown by handlers, turned into `{error: {...}}` with its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: StripeObject,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(error.message ?? "Stripe error"));
  }
}

export interface ErrorFields {
  code?: string;
  param?: string;
  status?: number;
  type?: string;
}

export function invalidRequest(message: string, fields: ErrorFields = {}): ApiError {
  const error: StripeObject = { type: fields.type ?? "invalid_request_error", message };
  if (fields.code) {
    error.code = fields.code;
    error.doc_url = `https://stripe.com/docs/error-codes/${fields.code.replaceAll("_", "-")}`;
  }
  if (fields.param) error.param = fields.param;
  return new ApiError(fields.status ?? 400, error);
}

export function resourceMissing(kind: string, id: string, param = "id"): ApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, {
    code: "resource_missing",
    param,
    status: 404,
  });
}

export function unknownParameter(name: string): ApiError {
  return invalidRequest(`Received unknown parameter: ${name}`, { param: name });
}
