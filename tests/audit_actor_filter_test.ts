/**
 * The audit log's `actor` filter (README "API": lists) takes an admin's id in
 * the shape the service mints it (`adm_` + 26 Crockford base32 characters),
 * `me`, or one of the ids jobs, CLIs and Stripe are written as
 * (domain/system_actors.ts); anything else is 422 on `query.actor`, never an
 * empty page. Every `systemContext(`/`stripeContext(` call outside the tests
 * takes its id from that registry.
 */
import assert from "node:assert/strict";
import { splitExport } from "./helpers/readme_export_check.ts";
import { withTestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, otpHeaders } from "./helpers/identity.ts";
import { ManualClock } from "../core/clock.ts";
import { createIdFactory, idPattern } from "../core/ids.ts";
import { stripeContext, systemContext } from "../domain/actor.ts";
import * as registry from "../domain/system_actors.ts";
import { isSystemActorId, STRIPE_ACTOR, SYSTEM_ACTOR_IDS } from "../domain/system_actors.ts";

const AUDIT = "/api/admin/payments/audit-log";

Deno.test("an actor that is no admin id, me or a registered job id is 422 on query.actor, list and export", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    const cases: [string, RegExp][] = [
      ["bob", /cron:reconcile_refunds/],
      ["cron:nope", /cron:reconcile_refunds/],
      ["refunds:nope", /refunds:requester_disabled/],
      ["stripe_dashboard", /stripe/],
      ["Bob", /cron:reconcile_refunds/],
      ["demo@example.com", /cron:reconcile_refunds/],
      ["adm_nope", /26 characters/],
      ["adm_01J", /26 characters/],
      [`adm_${"0".repeat(27)}`, /26 characters/],
      [`adm_${"0".repeat(300)}`, /26 characters/],
      ["adm_01jd3y8z6qkq2x5n7s9v4w1t0r", /26 characters/],
      ["adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0I", /26 characters/],
    ];
    for (const [who, says] of cases) {
      for (const path of [AUDIT, `${AUDIT}/export`]) {
        const res = await t.app.request(`${path}?actor=${encodeURIComponent(who)}`, {
          // the export's validation runs before the second factor is spent
          headers: path === AUDIT ? authHeaders(auditor) : otpHeaders(t, auditor),
        });
        assert.equal(res.status, 422, `${path} ${who}`);
        const body = await res.json();
        assert.equal(body.errors.length, 1, `${path} ${who}`);
        assert.equal(body.errors[0].path, "query.actor", `${path} ${who}`);
        assert.match(body.errors[0].message, /adm_/, who);
        assert.match(body.errors[0].message, says, who);
      }
    }
    // the general answer lists every job id accepted
    const res = await t.app.request(`${AUDIT}?actor=bob`, { headers: authHeaders(auditor) });
    const message: string = (await res.json()).errors[0].message;
    for (const id of SYSTEM_ACTOR_IDS) assert.ok(message.includes(id), `${id} in ${message}`);
  });
});

Deno.test("every registered system actor id, a minted admin id and me are accepted and find their entries", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    const other = await createAdmin(t, "admin");
    assert.ok(SYSTEM_ACTOR_IDS.length >= 16);
    assert.equal(new Set(SYSTEM_ACTOR_IDS).size, SYSTEM_ACTOR_IDS.length, "no id twice");
    for (const id of SYSTEM_ACTOR_IDS) {
      const ctx = id === STRIPE_ACTOR ? stripeContext("evt_registry") : systemContext(id);
      await t.services.audit.record(ctx, {
        action: "user.note",
        target: { type: "note", id: `by ${id}` },
        result: "ok",
      });
    }
    for (const id of SYSTEM_ACTOR_IDS) {
      const res = await t.app.request(`${AUDIT}?actor=${encodeURIComponent(id)}`, {
        headers: authHeaders(auditor),
      });
      assert.equal(res.status, 200, id);
      const page = await res.json();
      assert.deepEqual(
        page.data.map((e: { target: { id: string } }) => e.target.id),
        [`by ${id}`],
        id,
      );
    }
    for (const who of [other.id, "me"]) {
      const res = await t.app.request(`${AUDIT}?actor=${who}`, { headers: authHeaders(auditor) });
      assert.equal(res.status, 200, who);
      await res.body?.cancel();
    }
    const ok = await t.app.request(`${AUDIT}/export?actor=cron:fraud_sweep`, {
      headers: otpHeaders(t, auditor),
    });
    assert.equal(ok.status, 200);
    const { entries } = splitExport(await ok.text());
    assert.deepEqual(entries.map((e) => e.target?.id), ["by cron:fraud_sweep"]);
  });
});

Deno.test("idPattern matches every id the factory mints, and only that shape", () => {
  const clock = new ManualClock(0);
  const newId = createIdFactory(clock);
  const adm = idPattern("adm");
  for (const ms of [0, 1, Date.UTC(2026, 0, 31), 2 ** 48 - 1]) {
    clock.set(ms);
    for (let i = 0; i < 200; i++) {
      const id = newId("adm");
      assert.match(id, adm);
      assert.doesNotMatch(id, idPattern("aud"));
    }
  }
  for (
    const bad of [
      "adm_nope",
      "adm_",
      "xadm_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
      "adm_01JD3Y8Z6QKQ2X5N7S9V4W1T0Rx",
    ]
  ) {
    assert.doesNotMatch(bad, adm, bad);
  }
});

/** Non-test TypeScript under the repository (what ships), relative paths. */
async function sourceFiles(): Promise<string[]> {
  const root = new URL("../", import.meta.url);
  const out: string[] = [];
  const skip = new Set(["tests", "browser_tests", "node_modules", "data", ".git"]);
  async function walk(dir: string) {
    for await (const e of Deno.readDir(new URL(dir, root))) {
      if (e.isDirectory && !skip.has(e.name)) await walk(`${dir}${e.name}/`);
      if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
        out.push(`${dir}${e.name}`);
      }
    }
  }
  await walk("");
  return out;
}

Deno.test("every systemContext( call outside the tests takes a registered id, imported from the registry", async () => {
  const exported = new Set(Object.keys(registry));
  const root = new URL("../", import.meta.url);
  let calls = 0;
  for (const file of await sourceFiles()) {
    // comments may name the call; only code counts
    const src = (await Deno.readTextFile(new URL(file, root)))
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    for (const m of src.matchAll(/\bsystemContext\(\s*([^)]*?)\s*,?\s*\)/g)) {
      const arg = m[1];
      if (file === "domain/actor.ts" && arg === "job: string") continue; // the definition
      calls++;
      // a constant, or the fraud walker's entry of FRAUD_WALKER_ACTORS
      const name = /^([A-Z][A-Z0-9_]*)(\[[\w.]+\])?$/.exec(arg)?.[1];
      assert.ok(name && exported.has(name), `${file}: systemContext(${arg}) is not a registry id`);
      assert.match(
        src,
        new RegExp(`import \\{[^}]*\\b${name}\\b[^}]*\\} from "[./]*domain/system_actors\\.ts"`),
        `${file}: ${name} is not imported from domain/system_actors.ts`,
      );
    }
    // an actor spelled out by hand would bypass the registry
    if (file !== "domain/actor.ts") {
      assert.doesNotMatch(src, /type:\s*"(system|stripe)"\s*(as const\s*)?,\s*id:/, file);
    }
  }
  assert.ok(calls >= 15, `found ${calls} calls`);
  // each entry of FRAUD_WALKER_ACTORS and the Stripe actor are registered
  for (const id of Object.values(registry.FRAUD_WALKER_ACTORS)) assert.ok(isSystemActorId(id), id);
  assert.ok(isSystemActorId(stripeContext("evt_1").actor.id));
  assert.equal(isSystemActorId("cron:nope"), false);
});

Deno.test("the document's actor parameter says me is accepted, and names as 422 only what is refused", async () => {
  await withTestApp(async (t) => {
    const auditor = await createAdmin(t, "auditor");
    const doc = await (await t.app.request("/openapi.json")).json();
    for (const path of [AUDIT, `${AUDIT}/export`]) {
      const param = doc.paths[path].get.parameters.find((p: { name: string }) =>
        p.name === "actor"
      );
      const text: string = param.description;
      assert.match(text, /`me` for the caller's own/, path);
      const [, refused] = text.split(/ is 422/);
      assert.ok(refused === undefined || !refused.includes("`me`"), `${path}: ${text}`);
      // every value the description names as refused is refused
      const [accepted, named] = text.split(/any other value/);
      assert.ok(named, `${path}: ${text}`);
      assert.ok(accepted.includes("`me`"));
      for (const [, value] of named.matchAll(/`([^`]+)`/g)) {
        const res = await t.app.request(`${path}?actor=${encodeURIComponent(value)}`, {
          headers: path === AUDIT ? authHeaders(auditor) : otpHeaders(t, auditor),
        });
        assert.equal(res.status, 422, `${path} ${value}`);
      }
    }
  });
});
