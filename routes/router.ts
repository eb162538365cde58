/**
 * The one router factory: every route group is built from it, so every group
 * shares the validation hook that turns zod issues into 422 `validation_failed`
 * naming each field (`body.amount`, `query.limit`, `header.x-otp-code`).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { validationFailed } from "../core/errors.ts";
import { fieldErrors } from "../core/field_errors.ts";

const TARGET_NAMES: Record<string, string> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};

export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      const where = TARGET_NAMES[result.target] ?? result.target;
      throw validationFailed(fieldErrors(where, result.error.issues));
    },
  });
}
