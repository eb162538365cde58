/**
 * Concurrent rotations of your own token (README, "Accounts and enrollment"; the OpenAPI
 * document's `POST /api/admin/me/rotate-token`): of one burst with the same token, one wins;
 * every other is `409 conflict` saying when the token was rotated (`rotated_at`), with no
 * token, whether it lost in the rotation's own commit or its token was already rotated when it
 * was judged. Sent after the winner's answer, the old token is 401, and on every other route
 * it is 401 whenever it arrives: it never acts.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  authHeaders,
  createAdmin,
  sendJson,
  stepUpHeaders,
} from "./helpers/identity.ts";

/** POST /api/admin/me/rotate-token over a real socket, as a browser's or curl's burst arrives. */
async function rotateOver(port: number, headers: Record<string, string>) {
  const res = await fetch(`http://127.0.0.1:${port}/api/admin/me/rotate-token`, {
    method: "POST",
    headers,
  });
  return { status: res.status, body: await res.json() };
}

for (const n of [10, 20]) {
  Deno.test(`burst: ${n} rotations of your own token at once over HTTP: one 200, every other 409 with rotated_at; none issues a token`, async () => {
    await withTestApp(async (t) => {
      const admin = await createAdmin(t, "admin");
      const headers = await stepUpHeaders(t, admin);
      const server = Deno.serve(
        { port: 0, hostname: "127.0.0.1", onListen() {} },
        (req, info) => t.app.fetch(req, info),
      );
      try {
        const port = server.addr.port;
        const answers = await Promise.all(
          Array.from({ length: n }, () => rotateOver(port, headers)),
        );
        const statuses = answers.map((a) => a.status);
        assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(","));
        assert.equal(statuses.filter((s) => s === 409).length, n - 1, statuses.join(","));
        const won = answers.find((a) => a.status === 200)!;
        const at = won.body.admin.updated_at;
        for (const lost of answers.filter((a) => a.status === 409)) {
          assert.equal(lost.body.code, "conflict");
          assert.equal(lost.body.rotated_at, at, JSON.stringify(lost.body));
          assert.equal(lost.body.token, undefined);
          assert.match(lost.body.detail, /that answer carries the new token/);
        }
        const rotations = (await auditEntries(t.kv)).filter((e) =>
          e.action === "token.rotate" && e.target?.id === admin.id
        );
        assert.equal(rotations.filter((e) => e.result === "ok").length, 1);
        assert.equal(rotations.filter((e) => e.result === "denied").length, n - 1);
        const me = await t.app.request("/api/admin/me", {
          headers: { authorization: `Bearer ${won.body.token}` },
        });
        assert.equal(me.status, 200, "the winner's token works");
        await me.body?.cancel();
      } finally {
        await server.shutdown();
      }
    });
  });
}

Deno.test("a second click after the winner's answer is 409 with rotated_at; the old token sent later is 401", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, admin);
    const won = await sendJson(t, "POST", "/api/admin/me/rotate-token", headers);
    assert.equal(won.status, 200, JSON.stringify(won.body));
    t.clock.advance(1_000);
    const click = await sendJson(t, "POST", "/api/admin/me/rotate-token", headers);
    assert.equal(click.status, 409, JSON.stringify(click.body));
    assert.equal(click.body.rotated_at, won.body.admin.updated_at);
    assert.equal(click.body.token, undefined);
    t.clock.advance(60_000);
    const late = await sendJson(t, "POST", "/api/admin/me/rotate-token", headers);
    assert.equal(late.status, 401, JSON.stringify(late.body));
    assert.equal(late.body.code, "unauthenticated");
    assert.equal(late.body.rotated_at, undefined);
  });
});

Deno.test("burst: the old token sent to another route alongside its rotation is 401 there, never 409, and acts on nothing", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, admin);
    const [rotated, ...others] = await Promise.all([
      sendJson(t, "POST", "/api/admin/me/rotate-token", headers),
      ...Array.from({ length: 3 }, () =>
        sendJson(t, "POST", "/api/admin/step-up", headers, {
          code: "000000",
        })),
      ...Array.from({ length: 5 }, () => sendJson(t, "GET", "/api/admin/me", authHeaders(admin))),
    ]);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    for (const other of others) {
      // judged before the rotation, or refused: a step-up's wrong code, or the rotated token
      assert.ok([200, 401].includes(other.status), `${other.status} ${JSON.stringify(other.body)}`);
      assert.equal(other.body?.rotated_at, undefined);
    }
  });
});
