/**
 * GET /audit-log, /audit-log/verify, /audit-log/export (mounted under
 * /api/admin/payments). Reading and verifying need `audit.read`; an export
 * needs `audit.export` and a second factor, and is itself audited.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { listRoute } from "./list_route.ts";
import { callContext } from "./context.ts";
import {
  dateTimeQuery,
  DateTimeSchema,
  errorResponses,
  jsonContent,
  wholeNumberQuery,
} from "../openapi/schemas.ts";
import {
  type AuditFilters,
  checkTimeRange,
  EXPORT_CONTENT_TYPES,
  TIME_RANGE_MESSAGE,
} from "../services/audit/mod.ts";
import type { Services } from "../services/mod.ts";
import { targetFilterOf, TargetQuery } from "./audit_target.ts";
import { idPattern } from "../core/ids.ts";
import { isSystemActorId, SYSTEM_ACTOR_IDS } from "../domain/system_actors.ts";

// README "API": a "who" filter takes an id or `me`; an email, a name or an id the service
// never writes would list nothing, so it is 422 rather than an empty page.
const JOB_IDS = SYSTEM_ACTOR_IDS.join(", ");
const ACTOR_HINT = "actor takes an admin's id, adm_… with 26 characters after adm_ (as " +
  "GET /api/admin/users shows it; your own is on GET /api/admin/me), me for your own, or a " +
  `job's id as entries show it in actor.id: ${JOB_IDS}`;
const ADMIN_ID_HINT = "actor: an admin's id is adm_… with 26 characters after adm_, digits " +
  "and capital letters but I, L, O and U (as GET /api/admin/users shows it; your own is on " +
  "GET /api/admin/me, or send me)";
const ADMIN_ID = idPattern("adm");
/** Every form `actor` takes, as one pattern for the OpenAPI document (the check below says why). */
const ACTOR_PATTERN = `^(${
  [ADMIN_ID.source.slice(1, -1), "me", ...SYSTEM_ACTOR_IDS.map((id) => id.replace(/\./g, "\\."))]
    .join("|")
})$`;

const ACTION_HINT = "action takes a whole dotted action as entries show it (refund.create, " +
  "refund.approve, auth.step_up, …); a part such as refund matches nothing";

const FilterQuery = z.object({
  actor: z.string()
    .superRefine((v, ctx) => {
      if (v === "me" || ADMIN_ID.test(v) || isSystemActorId(v)) return;
      ctx.addIssue({ code: "custom", message: v.startsWith("adm_") ? ADMIN_ID_HINT : ACTOR_HINT });
    })
    .optional().openapi({
      param: { name: "actor", in: "query" },
      pattern: ACTOR_PATTERN,
      description: "whose entries: `me` for the caller's own, an admin's id (`adm_…`, 26 " +
        "characters after `adm_`), or a job's id as entries show it in `actor.id`: " +
        SYSTEM_ACTOR_IDS.map((id) => `\`${id}\``).join(", ") +
        "; any other value (an email, a name, an id in another shape such as `adm_nope`) " +
        "is 422 on `query.actor`, never an empty page",
    }),
  action: z.string().max(200, ACTION_HINT).regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/, ACTION_HINT)
    .optional().openapi({
      param: { name: "action", in: "query" },
      description: "the whole dotted action, e.g. `refund.create`",
    }),
  target: TargetQuery,
  from: dateTimeQuery("from", "entries at or after this time"),
  to: dateTimeQuery("to", "entries at or before this time"),
});

// Checked here too, so a swapped range is refused before a second factor is spent.
const ExportQuery = FilterQuery.extend({
  format: z.enum(["jsonl", "csv"], { error: "format must be jsonl or csv" }).default("jsonl")
    .openapi({ param: { name: "format", in: "query" }, example: "jsonl" }),
}).refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), {
  message: TIME_RANGE_MESSAGE,
  path: ["to"],
});

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const AuditEntrySchema = z.object({
  seq: z.number().int().min(1),
  id: z.string().openapi({ example: "aud_01JD3Y8Z6QKQ2X5N7S9V4W1T0R" }),
  at: z.number().int().openapi({ description: "ms since the epoch" }),
  at_iso: DateTimeSchema.openapi({ description: "`at` as an ISO 8601 date-time" }),
  actor: z.object({
    type: z.enum(["admin", "system", "stripe"]),
    id: z.string(),
    role: z.string().nullable(),
  }),
  action: z.string().openapi({ example: "refund.create" }),
  target: z.object({ type: z.string(), id: z.string() }).nullable(),
  before: z.unknown().openapi({ description: "masked; `_truncated` when too large" }),
  after: z.unknown().openapi({ description: "masked; `_truncated` when too large" }),
  reason: z.string().nullable(),
  result: z.enum(["ok", "denied", "failed"]),
  second_factor: z.boolean(),
  request_id: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  idempotency_key: z.string().nullable(),
  stripe_request_id: z.string().nullable(),
  stripe_idempotency_key: z.string().nullable(),
  prev_hash: Hex64,
  hash: Hex64.openapi({ description: "SHA-256 of the canonical entry without `hash`" }),
}).openapi("AuditEntry");

const VerifyResultSchema = z.object({
  ok: z.boolean(),
  entries: z.number().int().openapi({ description: "entries found intact" }),
  checkpoints: z.number().int().openapi({ description: "signed checkpoints confirmed" }),
  head: z.object({ seq: z.number().int(), hash: Hex64 }),
  first_bad: z.object({
    seq: z.number().int(),
    problem: z.enum([
      "truncated",
      "hash_mismatch",
      "prev_hash_mismatch",
      "missing",
      "out_of_order",
      "head_mismatch",
      "checkpoint_mismatch",
      "index_mismatch",
    ]),
    detail: z.string(),
    found_at: DateTimeSchema.optional().openapi({
      description: "a plain verify answering what a full one found (until one passes): when " +
        "that full verify found it",
    }),
  }).optional(),
  from_seq: z.number().int().optional().openapi({
    description: "incremental: the confirmed checkpoint the walk started from",
  }),
}).openapi("AuditVerifyResult");

const VerifyQuery = z.object({
  full: z.enum(["true", "false"], { error: "full must be true or false" }).optional().openapi({
    param: { name: "full", in: "query" },
    description: "walk every entry and check the filter indexes against them (default: " +
      "from the last checkpoint a verify confirmed; from the chain's start with `expect_seq`)",
  }),
  expect_seq: wholeNumberQuery("expect_seq", {
    min: 0,
    example: 0,
    description: "seq of a checkpoint you kept; the chain must still reach it, every entry up " +
      "to it recomputed from the chain's start (never incremental), with `expect_hash` at it " +
      "(0 is the chain's start, whose hash is 64 zeros)",
  }).optional(),
  // either case is the same hash: compared lowercased (README, "Audit checkpoints")
  expect_hash: z.string().regex(/^[0-9a-fA-F]{64}$/, "expect_hash must be 64 hex digits")
    .toLowerCase().optional().openapi({
      param: { name: "expect_hash", in: "query" },
      description: "the hash you kept at `expect_seq`: 64 hex digits, either case",
    }),
}).refine((q) => (q.expect_seq === undefined) === (q.expect_hash === undefined), {
  message: "send expect_seq and expect_hash together",
  path: ["expect_hash"],
});

const list = listRoute({
  permission: "audit.read",
  path: "/audit-log",
  tags: ["audit"],
  summary: "The audit log, newest first",
  filters: FilterQuery.shape,
  item: AuditEntrySchema,
  pageName: "AuditEntryPage",
  // the scan budget (services/audit/query.ts): a sparse filter's page may hold nothing
  pageDescription: {
    page: "A page of entries, newest first. A filtered page reads at most 2,000 entries or " +
      "index rows, so where matches are sparse it may be empty (or hold fewer than `limit`) " +
      "while more exist further back: follow `next_cursor` until it is null.",
    nextCursor: "where the next page starts (send it as `cursor`); null only when no entry is " +
      "left, never merely because this page is empty",
  },
});

const verifyRoute = adminRoute({ permission: "audit.read" }, {
  method: "get",
  path: "/audit-log/verify",
  tags: ["audit"],
  summary: "Recompute the hash chain and compare the signed checkpoints",
  description: "Incremental from the last checkpoint a verify confirmed (`full=true` walks " +
    "everything, and checks the filter indexes: `index_mismatch`); until a full verify passes " +
    "again, the incremental one answers what the last full one found (`first_bad.found_at`). " +
    "`expect_seq` + `expect_hash`: a checkpoint you kept outside the service, checked by a walk " +
    "from the chain's first entry (not incremental), so an entry below it changed or deleted " +
    "is found; a chain that no longer reaches it is `truncated`. Deleted checkpoints are `missing` (the signed count, " +
    "the checkpoint cron's last good run); only a kept checkpoint shows a store rewritten whole. " +
    "One walk at a time per server process: the same verify (same `full`, `expect_seq`, " +
    "`expect_hash`) asked for while one waits to start shares its answer; another waits for " +
    "the walk in progress up to 5 s, then is `503 verify_busy` with `Retry-After` (nothing " +
    "checked: send it again then).",
  request: { query: VerifyQuery },
  responses: {
    200: jsonContent(VerifyResultSchema, "`ok: false` names the first bad entry and why"),
    ...errorResponses("verify_busy"),
  },
});

const exportRoute = adminRoute({ permission: "audit.export", secondFactor: true }, {
  method: "get",
  path: "/audit-log/export",
  tags: ["audit"],
  summary: "Download the (filtered) audit log, oldest first, streamed",
  description: "JSON Lines holds each entry exactly as stored, so hashes can be " +
    "recomputed offline. Both formats end with a summary, written only once every matching " +
    "entry was (a file without it was cut short): in JSON Lines the last line, " +
    '`{"export_summary":{…}}`; in CSV the last row, `id` `export_summary` with the summary ' +
    "as JSON in `after` (other cells empty). The summary holds `complete: true`, `format`, " +
    "`filters` (as applied: `{}` for none, `me` as the admin's id, times in ISO 8601), " +
    "`seq_range` (`{from, to}`, the seqs covered, or null), `entries` (how many were written), " +
    "`head` (`{seq, hash}`: the chain's head when the export began; an unfiltered export runs " +
    "from seq 1 to it) and `exported_at`. The export is itself recorded as `audit.export`.",
  request: { query: ExportQuery },
  responses: {
    200: {
      description: "the entries, oldest first, then the summary, as an attachment",
      headers: {
        "content-disposition": {
          description: '`attachment; filename="audit-log-<time>.jsonl"` (or `.csv`)',
          required: true,
          schema: { type: "string" },
        },
      },
      content: {
        "application/x-ndjson": { schema: z.string() },
        "text/csv": { schema: z.string() },
      },
    },
  },
});

/** The filters asked for, with Stripe's ids as the ids the entries name (`targetFilterOf`). */
async function toFilters(
  services: Services,
  q: z.infer<typeof FilterQuery>,
  caller: string,
): Promise<AuditFilters> {
  const target = q.target !== undefined ? await targetFilterOf(services, q.target) : undefined;
  return {
    ...(q.actor !== undefined ? { actor: q.actor === "me" ? caller : q.actor } : {}),
    ...(q.action !== undefined ? { action: q.action } : {}),
    ...(target !== undefined ? { target } : {}),
    ...(q.from !== undefined ? { from: Date.parse(q.from) } : {}),
    ...(q.to !== undefined ? { to: Date.parse(q.to) } : {}),
  };
}

export function auditLogRoutes(services: Services) {
  return createRouter()
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      const filters = await toFilters(services, q, callContext(c).actor.id);
      checkTimeRange(filters);
      const page = await services.audit.list({
        ...filters,
        limit: q.limit,
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
      return c.json(page, 200);
    })
    .openapi(verifyRoute, async (c) => {
      const q = c.req.valid("query");
      const expect = q.expect_seq !== undefined && q.expect_hash !== undefined
        ? { seq: q.expect_seq, hash: q.expect_hash }
        : undefined;
      return c.json(await services.audit.verify({ full: q.full === "true", expect }), 200);
    })
    .openapi(exportRoute, async (c) => {
      const { format, ...filters } = c.req.valid("query");
      const ctx = callContext(c);
      const stream = await services.audit.export(
        ctx,
        await toFilters(services, filters, ctx.actor.id),
        format,
      );
      const stamp = new Date(services.deps.clock.now()).toISOString().replaceAll(":", "-");
      return new Response(stream, {
        status: 200,
        headers: {
          "content-type": EXPORT_CONTENT_TYPES[format],
          "content-disposition": `attachment; filename="audit-log-${stamp}.${format}"`,
          "cache-control": "no-store",
        },
      });
    });
}
