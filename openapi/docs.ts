/**
 * GET /docs: Swagger UI served by the service itself (no CDN), under a strict
 * Content-Security-Policy. The page, its init script and the `swagger-ui-dist`
 * assets are plain routes, kept out of the OpenAPI document.
 *
 * The assets are files of the npm package. The static import below puts the
 * package in the module graph (so `deno run`, `deno compile` and Deno Deploy
 * install and ship it); `import.meta.resolve` then names its directory as a
 * file URL, both in Deno's npm cache and in a `node_modules` folder. Files are
 * read once, on first request, and kept in memory.
 */
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path.js";
import type { Context } from "hono";
import { createRouter } from "../routes/router.ts";
import { AppError } from "../core/errors.ts";

/** Must match the `swagger-ui-dist` pin in deno.json (a test checks); it versions the asset URLs. */
export const SWAGGER_UI_VERSION = "5.35.0";
export const DOCS_ASSETS_PATH = `/docs/assets/${SWAGGER_UI_VERSION}`;

/**
 * No 'unsafe-inline' anywhere: Swagger UI's React sets styles through the CSSOM
 * (`element.style`), which CSP allows, and it adds no <style> element
 * (browser_tests/docs_test.ts fails on any violation). Its stylesheet draws
 * select arrows with data: SVGs, hence `img-src data:`; it needs no web fonts.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Package files served under DOCS_ASSETS_PATH, with their content types. */
export const DOCS_ASSETS: Readonly<Record<string, string>> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "index.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

const IMMUTABLE = "public, max-age=31536000, immutable";

const DOCS_HTML = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Payment operations API</title>
    <link rel="stylesheet" href="${DOCS_ASSETS_PATH}/swagger-ui.css">
    <link rel="stylesheet" href="${DOCS_ASSETS_PATH}/index.css">
    <link rel="icon" type="image/png" href="${DOCS_ASSETS_PATH}/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="${DOCS_ASSETS_PATH}/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${DOCS_ASSETS_PATH}/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// A separate file, not an inline <script>, so that `script-src 'self'` holds.
// BaseLayout (no standalone preset): no top bar that would fetch other origins'
// documents, and no online validator badge.
const INIT_JS = `"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    // the bearer token is not kept in localStorage: a shared browser would keep it
    persistAuthorization: false,
    displayRequestDuration: true,
    validatorUrl: null,
  });
  // Every key input of the Authorize dialog asks for focus as it mounts, so the last one
  // (stepUp) wins and the dialog opens scrolled to it. Put the caret in the first one,
  // bearerAuth (the token everyone needs), with the dialog at its top.
  new MutationObserver(function (changes) {
    changes.forEach(function (change) {
      change.addedNodes.forEach(function (node) {
        if (!(node instanceof Element)) return;
        var modal = node.matches(".modal-ux") ? node : node.querySelector(".modal-ux");
        if (!modal) return;
        var first = modal.querySelector(".auth-container input");
        if (first) first.focus({ preventScroll: true });
        var content = modal.querySelector(".modal-ux-content");
        if (content) content.scrollTop = 0;
      });
    });
  }).observe(document.body, { childList: true, subtree: true });
});
`;

const cache = new Map<string, Promise<Uint8Array>>();

/** The file URL of a file of the swagger-ui-dist package. */
export function swaggerUiFileUrl(file: string): URL {
  const resolved = import.meta.resolve(`swagger-ui-dist/${file}`);
  if (resolved.startsWith("file:")) return new URL(resolved);
  // Not resolved to a file (an unusual loader): ask the package where it lives.
  return new URL(file, `file://${getAbsoluteFSPath()}/`);
}

function readAsset(file: string): Promise<Uint8Array> {
  let body = cache.get(file);
  if (!body) {
    body = Deno.readFile(swaggerUiFileUrl(file));
    // A failed read is not cached: the next request tries again.
    body.catch(() => cache.delete(file));
    cache.set(file, body);
  }
  return body;
}

function securityHeaders(c: Context): void {
  c.header("Content-Security-Policy", DOCS_CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Frame-Options", "DENY");
}

export function docsRoutes() {
  const router = createRouter();
  router.get("/docs", (c) => {
    securityHeaders(c);
    c.header("Cache-Control", "no-cache");
    return c.html(DOCS_HTML);
  });
  router.get("/docs/", (c) => c.redirect("/docs", 301));
  router.get("/docs/init.js", (c) => {
    securityHeaders(c);
    c.header("Cache-Control", "no-cache");
    c.header("Content-Type", "text/javascript; charset=utf-8");
    return c.body(INIT_JS);
  });
  router.get(`${DOCS_ASSETS_PATH}/:file`, async (c) => {
    const file = c.req.param("file");
    const contentType = Object.hasOwn(DOCS_ASSETS, file) ? DOCS_ASSETS[file] : undefined;
    if (!contentType) {
      throw new AppError("not_found", `no docs asset named ${file}`);
    }
    const body = await readAsset(file);
    securityHeaders(c);
    c.header("Cache-Control", IMMUTABLE);
    c.header("Content-Type", contentType);
    return c.body(body as Uint8Array<ArrayBuffer>);
  });
  return router;
}
