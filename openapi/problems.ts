/**
 * GET /problems and /problems/{code}: what each problem code means and what to
 * do about it, as short HTML pages served by the service itself. A problem
 * document's `type` is `/problems/{code}`, so it resolves against the service.
 * The text lives in one table (ERROR_CODES); a code added there gets its page.
 * Both are operations of the OpenAPI document (public: `security: []`).
 */
import type { Context } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../routes/router.ts";
import { problemResponses } from "./error_responses.ts";
import { AppError, ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from "../core/errors.ts";

export const PROBLEMS_PATH = "/problems";

const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";

const STYLE = "body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;" +
  "padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .2em}h1 small{color:#777}" +
  "dt{font-weight:600;margin-top:1rem}dd{margin:0}";

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** `code` spans (backticks in the table) rendered, everything else escaped. */
function inline(s: string): string {
  return escapeHtml(s).replace(/`([^`]+)`/g, "<code>$1</code>");
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>${body}
<p><a href="${PROBLEMS_PATH}">All problem codes</a> · <a href="/docs">API docs</a></p>
</body></html>
`;
}

/** The help for one code; every code in the table has both parts (a test walks them). */
export function problemHelp(code: ErrorCode): Required<ErrorCodeInfo> {
  const info: ErrorCodeInfo = ERROR_CODES[code];
  return {
    status: info.status,
    title: info.title,
    what: info.what ?? info.title,
    todo: info.todo ?? "See the problem's `detail`, which names the fix.",
  };
}

export function problemPage(code: ErrorCode): string {
  const help = problemHelp(code);
  return page(
    `${code}: ${help.title}`,
    `<h1>${escapeHtml(help.title)} <small>${help.status}</small></h1>
<p><code>${code}</code></p>
<dl><dt>What happened</dt><dd>${inline(help.what)}</dd>
<dt>What to do</dt><dd>${inline(help.todo)}</dd></dl>
<p>The problem document's <code>detail</code> says what was wrong with this request, and its
<code>request_id</code> finds it in the service's log.</p>`,
  );
}

function indexPage(): string {
  const rows = (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) =>
    `<li><a href="${PROBLEMS_PATH}/${code}"><code>${code}</code></a> ` +
    `(${ERROR_CODES[code].status}) ${escapeHtml(ERROR_CODES[code].title)}</li>`
  ).join("\n");
  return page(
    "Problem codes",
    `<h1>Problem codes</h1>
<p>Every error is <code>application/problem+json</code> with a stable <code>code</code>;
its <code>type</code> links here.</p>
<ul>
${rows}
</ul>`,
  );
}

function send(c: Context, html: string) {
  c.header("Content-Security-Policy", CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Cache-Control", "public, max-age=3600");
  return c.html(html);
}

/** The answer of a page: HTML, cached an hour (the text changes only with the service). */
function htmlPage(description: string, example: string) {
  return {
    description,
    headers: {
      "cache-control": {
        description: "`public, max-age=3600`",
        required: true,
        schema: { type: "string" as const, example: "public, max-age=3600" },
      },
    },
    content: { "text/html": { schema: z.string().openapi({ example }) } },
  };
}

const index = createRoute({
  method: "get",
  path: PROBLEMS_PATH,
  operationId: "listProblems",
  tags: ["problems"],
  summary: "Every problem code, with its status and title (HTML)",
  responses: {
    200: htmlPage("a page listing every code, each linking to its own page", "<!DOCTYPE html>…"),
    ...problemResponses("unavailable"),
  },
});

const one = createRoute({
  method: "get",
  path: `${PROBLEMS_PATH}/{code}`,
  operationId: "getProblem",
  tags: ["problems"],
  summary: "What one problem code means and what to do about it (HTML)",
  description: "A problem document's `type` is this page.",
  request: {
    params: z.object({
      code: z.string().openapi({
        param: { name: "code", in: "path" },
        description: "a problem document's `code`",
        example: "validation_failed",
      }),
    }),
  },
  responses: {
    200: htmlPage("the code's page", "<!DOCTYPE html>…"),
    ...problemResponses("not_found", "unavailable"),
  },
});

export function problemRoutes() {
  const router = createRouter();
  router.openapi(index, (c) => send(c, indexPage()));
  router.openapi(one, (c) => {
    const code = c.req.valid("param").code;
    if (!Object.hasOwn(ERROR_CODES, code)) {
      throw new AppError("not_found", `no problem code ${code}; see ${PROBLEMS_PATH} for all`);
    }
    return send(c, problemPage(code as ErrorCode));
  });
  return router;
}
