/**
 * /fraud/rules and /fraud/sweeps (mounted under /api/admin/payments): rule
 * settings (analysts read, admins change with 2FA; disabling, shadow mode or
 * loosening waits for a second person), a backtest that writes nothing, and sweeps.
 */
import { z } from "@hono/zod-openapi";
import { createRouter } from "./router.ts";
import { adminRoute } from "./admin_route.ts";
import { callContext } from "./context.ts";
import { listRoute } from "./list_route.ts";
import {
  CursorQuery,
  errorResponses,
  jsonBody,
  jsonContent,
  LimitQuery,
  pageSchema,
} from "../openapi/schemas.ts";
import { ApprovalSchema } from "../openapi/record_schemas.ts";
import { RuleEnum, RulePatchSchema, RuleSchema, SweepSchema } from "./fraud_schemas.ts";

import type { Services } from "../services/mod.ts";
import type { SweepRun } from "../domain/fraud.ts";

const tags = ["fraud"];

const listRules = adminRoute({ permission: "fraud.rules.read" }, {
  method: "get",
  path: "/fraud/rules",
  tags,
  summary: "Every rule's settings (version, thresholds, points, enabled, shadow)",
  description: "A list like every other, in the rules' fixed order: the default `limit` holds " +
    "every rule (`next_cursor` null).",
  request: { query: z.object({ limit: LimitQuery, cursor: CursorQuery }) },
  responses: { 200: jsonContent(pageSchema(RuleSchema, "FraudRulePage"), "the rules") },
});

const putRule = adminRoute({ permission: "fraud.rules.write", secondFactor: true }, {
  method: "put",
  path: "/fraud/rules/{rule}",
  tags,
  summary: "Change a rule: a new version at once, or a request for a second person",
  description: "Disabling a rule, putting it in shadow mode, or loosening it (a change that can " +
    "only make it raise fewer alerts or fewer points: a threshold raised or switched off, points " +
    "lowered, an amount raised or removed, the window shortened, the severity lowered, " +
    "`extra_at` or `min_ratio` raised) answers 202 with an approval request another admin " +
    "approves in `/api/admin/approvals`; one at a time per rule: another while one waits is " +
    "409 naming it, who asked and when; the same change sent again by the admin who asked (a " +
    "second click) answers the request waiting, nothing written. Settings that contradict each other (an alert level " +
    "below the watch level, a watch amount above the alert amount, the score critical below its " +
    "alert level) are 422 naming the field, and so is a setting the rule does not use " +
    '(`body.min_ratio` on velocity), naming the rule\'s settings (README "Fraud detection", ' +
    "Tuning); an approved change is checked again as it applies. The example body `{}` changes " +
    "nothing (no new " +
    "version): sent as is, it answers the rule as it stands.",
  request: {
    params: z.object({
      rule: RuleEnum.openapi({ param: { name: "rule", in: "path" }, example: "velocity" }),
    }),
    body: { required: true, content: { "application/json": { schema: RulePatchSchema } } },
  },
  responses: {
    200: jsonContent(RuleSchema, "the new version"),
    202: jsonContent(
      z.object({ approval: ApprovalSchema }).openapi("FraudRuleChangeRequested"),
      "waiting for a second person: the request in the approvals queue " +
        "(`fraud.rule_disable`, `fraud.rule_shadow` or `fraud.rule_loosen`)",
    ),
    ...errorResponses("conflict"),
  },
});

const backtest = adminRoute({ permission: "fraud.triage" }, {
  method: "post",
  path: "/fraud/rules/backtest",
  tags,
  summary: "Replay the last N days against proposed settings; writes nothing",
  description: "Settings a PUT would refuse (an alert level below the watch level, a watch " +
    "amount above the alert amount, a setting the rule does not use, another setting beside " +
    "disabling the rule or putting it in shadow mode) are 422 with the PUT's message, naming " +
    "the rule's field (`body.rules.<rule>.<field>`). Once a change is applied, the next " +
    "sweep walks all kept history under it (`cursor_from` null), raising what `only_proposed` " +
    "showed.",
  request: {
    body: jsonBody(
      z.object({
        days: z.number().int().min(1).max(90, "days is 1 to 90").default(30),
        // an unknown key is "not a known rule", the rule names listed (core/unknown_fields.ts)
        rules: z.partialRecord(RuleEnum.meta({ keyName: "rule" }), RulePatchSchema).default({})
          .openapi({ additionalProperties: false }),
      }).strict().openapi("FraudBacktest"),
    ),
  },
  responses: {
    200: jsonContent(
      z.record(z.string(), z.unknown()).openapi("FraudBacktestResult", {
        description: "`proposed` and `current`: alerts, customers and `by_rule` counts under " +
          "each setting; `overlap`: alerts and customers both raise; `only_proposed` / " +
          "`only_current`: the alerts one raises and the other does not, as " +
          "`<subject>|<rule>` (at most 100 each)",
        example: {
          days: 30,
          subjects_scanned: 32,
          payments_evaluated: 82,
          proposed: { alerts: 15, customers: 10, by_rule: { score: 4, failed_attempts: 4 } },
          current: {
            alerts: 16,
            customers: 10,
            by_rule: { score: 4, failed_attempts: 4, velocity: 1 },
          },
          overlap: { alerts: 15, customers: 10 },
          only_proposed: [],
          only_current: ["cus_Example0000000000|velocity"],
        },
      }),
      "alerts, customers and the overlap",
    ),
  },
});

const sweepNow = adminRoute({ permission: "fraud.sweeps" }, {
  method: "post",
  path: "/fraud/sweeps",
  tags,
  summary: "Run a sweep now (from where the last one reached)",
  description: "Sending this acts at once: it takes no input, so Try it out starts a real " +
    "sweep, as the cron does: it walks the payments changed since the last run, raises the " +
    "alerts the rules find and records the run. " +
    "Audited `fraud_sweep.start` with who started it (`started_by` on the run); " +
    "one refused because another runs (409) is audited `denied`.",
  responses: {
    200: jsonContent(SweepSchema, "the run"),
    ...errorResponses("conflict"),
  },
});

const sweeps = listRoute({
  permission: "fraud.sweeps",
  path: "/fraud/sweeps",
  tags,
  summary: "Past sweep runs, newest first",
  filters: {},
  item: SweepSchema,
  pageName: "FraudSweepPage",
});

/** A run as shown: `changes_until` and `started_by` are null on runs recorded before they were kept. */
function sweepView(run: SweepRun) {
  return { ...run, changes_until: run.changes_until ?? null, started_by: run.started_by ?? null };
}

export function fraudRuleRoutes(services: Services) {
  const fraud = services.fraud;
  return createRouter()
    .openapi(listRules, async (c) => {
      const { limit, cursor } = c.req.valid("query");
      return c.json(await fraud.rulesPage({ limit, ...(cursor ? { cursor } : {}) }), 200);
    })
    .openapi(putRule, async (c) => {
      const { rule } = c.req.valid("param");
      const r = await fraud.putRule(callContext(c), rule, c.req.valid("json"));
      return r.status === 202 ? c.json({ approval: r.approval }, 202) : c.json(r.rule, 200);
    })
    .openapi(backtest, async (c) => c.json({ ...await fraud.backtest(c.req.valid("json")) }, 200))
    .openapi(
      sweepNow,
      async (c) => c.json(sweepView(await fraud.startSweep(callContext(c))), 200),
    )
    .openapi(sweeps, async (c) => {
      const page = await fraud.listSweeps(c.req.valid("query"));
      return c.json({ data: page.data.map(sweepView), next_cursor: page.next_cursor }, 200);
    });
}
