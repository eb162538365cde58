/**
 * /docs in a real browser: Debian's chromium driven by playwright-core, against
 * the real app served on a random loopback port. Checks that Swagger UI renders
 * every operation of /openapi.json under the page's CSP, that an operation
 * expands and that "Authorize" takes a bearer token, with no console errors,
 * page errors or CSP violations. Screenshots go to browser_tests/screenshots/.
 */
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { createTestApp } from "../tests/helpers/app.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const SCREENSHOTS = new URL("./screenshots/", import.meta.url);
const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];

/** Runs in the page before its scripts: records CSP violations where the test can read them. */
const RECORD_CSP_VIOLATIONS = `
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
  });
`;

function countOperations(doc: { paths: Record<string, Record<string, unknown>> }): number {
  return Object.values(doc.paths)
    .reduce((n, item) => n + METHODS.filter((m) => item[m]).length, 0);
}

interface OpenApiOperation {
  security?: Record<string, string[]>[];
  parameters?: { required?: boolean }[];
}

/** A GET that needs only the bearer token and no parameter: where Try it out shows the header. */
function securedGetWithoutParameters(
  doc: { paths: Record<string, Record<string, OpenApiOperation>> },
): string | undefined {
  return Object.entries(doc.paths).find(([, item]) => {
    const op = item.get;
    return op && !op.parameters?.some((p) => p.required) &&
      op.security?.length === 1 && Object.keys(op.security[0]).join() === "bearerAuth";
  })?.[0];
}

async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage });
}

Deno.test({
  name: "/docs renders every operation and authorizes a bearer token under its CSP",
  // The browser is a child process with pipes that outlive single steps.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await Deno.stat(CHROMIUM).catch(() => {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    });
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    const testApp = await createTestApp();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      testApp.app.fetch,
    );
    const base = `http://127.0.0.1:${server.addr.port}`;
    const profile = await Deno.makeTempDir({ prefix: "docs_test_chromium_" });
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    const problems: string[] = [];
    // Requests the test makes fail on purpose (an unknown token's 401) are not problems.
    const expectedFailures = new Set<string>();
    try {
      const page = context.pages()[0] ?? await context.newPage();
      await page.addInitScript(RECORD_CSP_VIOLATIONS);
      page.on("console", (msg) => {
        if (expectedFailures.has(msg.location().url)) return;
        if (msg.type() === "error" || msg.type() === "warning") {
          problems.push(`console ${msg.type()}: ${msg.text()}`);
        }
      });
      page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
      page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()}`));
      page.on("response", (res) => {
        if (res.status() >= 400 && !expectedFailures.has(res.url())) {
          problems.push(`HTTP ${res.status()}: ${res.url()}`);
        }
      });

      const doc = await (await fetch(`${base}/openapi.json`)).json();
      const expected = countOperations(doc);
      assert.ok(expected > 0, "the document has operations");

      await t.step("every operation of /openapi.json is rendered", async () => {
        const res = await page.goto(`${base}/docs`);
        assert.equal(res?.status(), 200);
        await page.locator(".opblock").first().waitFor();
        // A string, evaluated in the page: this file is type-checked without the DOM lib.
        await page.waitForFunction(`document.querySelectorAll(".opblock").length === ${expected}`);
        assert.equal(await page.locator(".opblock").count(), expected);
        const title = await page.locator(".info .title").first().innerText();
        assert.ok(title.startsWith(doc.info.title), `title: ${title}`);
        assert.match(title, /OAS 3\.1/);
        await screenshot(page, "docs");
      });

      await t.step("an operation expands to show its parameters and responses", async () => {
        const first = page.locator(".opblock").first();
        await first.locator(".opblock-summary-control").click();
        await first.locator(".opblock-body .responses-wrapper").waitFor();
        assert.match(await first.getAttribute("class") ?? "", /\bis-open\b/);
        assert.ok(await first.locator(".response[data-code='200']").count() >= 1);
      });

      await t.step("Try it out calls the service from the page (connect-src 'self')", async () => {
        const healthz = page.locator(".opblock").filter({ hasText: "/healthz" }).first();
        if (!(await healthz.getAttribute("class") ?? "").includes("is-open")) {
          await healthz.locator(".opblock-summary-control").click();
        }
        await healthz.getByRole("button", { name: "Try it out" }).click();
        await healthz.getByRole("button", { name: "Execute" }).click();
        const live = healthz.locator(".live-responses-table tbody .response-col_status").first();
        await live.waitFor();
        assert.equal((await live.innerText()).trim(), "200");
        assert.match(await healthz.locator(".live-responses-table").innerText(), /"ok": true/);
        await screenshot(page, "docs_operation");
      });

      await t.step("Authorize takes a bearer token and the OTP / step-up keys", async () => {
        await page.locator(".auth-wrapper .authorize").click();
        const modal = page.locator(".modal-ux");
        await modal.waitFor();
        const text = await modal.innerText();
        // bearerAuth comes first and the dialog opens scrolled to it, not to a second factor
        const first = await modal.locator(".auth-container").first().innerText();
        assert.match(first, /^bearerAuth/);
        const scrolled = await page.evaluate<number>(
          `document.querySelector(".modal-ux-content")?.scrollTop ?? 0`,
        );
        assert.equal(scrolled, 0, "the Authorize dialog opens at its top (bearerAuth)");
        const focused = await page.evaluate<string>(
          `document.activeElement?.closest(".auth-container")?.innerText ?? ""`,
        );
        assert.match(focused, /^bearerAuth/, "the caret is in the bearer token's field");
        for (const name of ["bearerAuth", "otpCode", "stepUp", "X-OTP-Code", "X-Step-Up"]) {
          assert.ok(text.includes(name), `the Authorize dialog offers ${name}`);
        }
        // the first container, asserted above to be bearerAuth's (metricsToken's text names it too)
        const bearer = modal.locator(".auth-container").first();
        await bearer.locator("input").fill("adm_test_token_0123456789");
        await bearer.locator("button.authorize").click();
        await bearer.scrollIntoViewIfNeeded();
        await bearer.locator("button", { hasText: "Logout" }).waitFor();
        assert.ok((await bearer.innerText()).includes("Authorized"));
        // The dialog is fixed to the viewport: a full-page shot would show it over the top only.
        await screenshot(page, "docs_authorize", false);
        await modal.locator("button.close-modal").click();
        await modal.waitFor({ state: "detached" });
        // the token is not persisted: nothing of it in localStorage
        const stored = await page.evaluate<string>(`JSON.stringify(localStorage)`);
        assert.doesNotMatch(stored, /adm_test_token_0123456789/);
      });

      await t.step("Try it out on a secured operation sends the bearer token", async () => {
        const path = securedGetWithoutParameters(doc);
        assert.ok(path, "the document has a bearer-only GET operation without parameters");
        const url = `${base}${path}`;
        expectedFailures.add(url);
        const block = page.locator(".opblock-get").filter({
          has: page.locator(`.opblock-summary-path[data-path="${path}"]`),
        });
        await block.locator(".opblock-summary-control").click();
        await block.getByRole("button", { name: "Try it out" }).click();
        const sent = page.waitForRequest(url);
        await block.getByRole("button", { name: "Execute" }).click();
        assert.equal((await sent).headers()["authorization"], "Bearer adm_test_token_0123456789");
        const live = block.locator(".live-responses-table tbody .response-col_status").first();
        await live.waitFor();
        // The token is made up, so the service refuses it, as a problem document.
        assert.equal((await live.innerText()).trim(), "401");
        assert.match(await block.locator(".live-responses-table").innerText(), /unauthenticated/);
      });

      await t.step("no console errors, page errors or CSP violations", async () => {
        const violations = await page.evaluate<string[]>("window.__cspViolations");
        assert.deepEqual(violations, []);
        assert.deepEqual(problems, []);
      });
    } finally {
      await context.close();
      await server.shutdown();
      await testApp.close();
      await Deno.remove(profile, { recursive: true });
    }
  },
});
