/**
 * TRUSTED_PROXIES (README, "Configuration" and "Inputs and headers"): every
 * entry is an IPv4 or IPv6 address or CIDR, checked at start-up; IPv6 CIDRs
 * match like IPv4 ones.
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../config.ts";
import { addressMatches } from "../core/net.ts";
import { withTestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin } from "./helpers/identity.ts";

function refusal(value: string): string {
  try {
    parseConfig({ TRUSTED_PROXIES: value });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail(`TRUSTED_PROXIES=${value} was accepted`);
}

Deno.test("TRUSTED_PROXIES: an entry that is not an address or CIDR stops start-up, naming it", () => {
  for (
    const bad of [
      "notanip",
      "10.0.0.0/8,notanip",
      "10.0.0.0/33",
      "10.0.0.256",
      "10.0.0.0/",
      "10.0.0.0/8/1",
      "2001:db8::/129",
      "2001:db8:::1",
      "1:2:3:4:5:6:7:8:9",
      "fe80::1/x",
    ]
  ) {
    const message = refusal(bad);
    assert.match(message, /TRUSTED_PROXIES/, bad);
    const entry = bad.split(",").at(-1)!;
    assert.ok(message.includes(`"${entry}"`), `${bad}: ${message}`);
  }
});

Deno.test("TRUSTED_PROXIES: IPv4 and IPv6 addresses and CIDRs are accepted", () => {
  const c = parseConfig({
    TRUSTED_PROXIES: " 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32, ::1, ::ffff:198.51.100.0/120, fe80::",
  });
  assert.deepEqual(c.trustedProxies, [
    "10.0.0.0/8",
    "192.0.2.1",
    "2001:db8::/32",
    "::1",
    "::ffff:198.51.100.0/120",
    "fe80::",
  ]);
});

Deno.test("addressMatches(): IPv6 CIDRs, IPv4 CIDRs, exact addresses in any spelling", () => {
  assert.equal(addressMatches("2001:db8:1::5", "2001:db8::/32"), true);
  assert.equal(addressMatches("2001:db9::5", "2001:db8::/32"), false);
  assert.equal(addressMatches("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), true);
  assert.equal(addressMatches("::1", "::1/128"), true);
  assert.equal(addressMatches("::2", "::1/128"), false);
  assert.equal(addressMatches("anything", "::/0"), false, "not an address");
  assert.equal(addressMatches("fd00::1", "::/0"), true);
  assert.equal(addressMatches("10.1.2.3", "10.0.0.0/8"), true);
  assert.equal(addressMatches("11.1.2.3", "10.0.0.0/8"), false);
  assert.equal(addressMatches("10.1.2.3", "::/0"), false, "families do not mix");
  // an IPv4 peer seen through a dual-stack socket is still that IPv4 address
  assert.equal(addressMatches("::ffff:10.1.2.3", "10.0.0.0/8"), true);
  assert.equal(addressMatches("fe80::1%eth0", "fe80::/10"), true);
});

Deno.test("X-Forwarded-For is believed from a proxy in an IPv6 CIDR", async () => {
  await withTestApp(async (t) => {
    const viewer = await createAdmin(t, "viewer");
    const res = await t.app.request("/api/admin/users", {
      headers: { ...authHeaders(viewer), "x-forwarded-for": "203.0.113.66, 2001:db8::7" },
    }, { remoteAddr: { hostname: "2001:db8::2" } });
    await res.body?.cancel();
    const denied = (await auditEntries(t.kv)).find((e) => e.action === "auth.forbidden")!;
    assert.equal(denied.ip, "203.0.113.66");
  }, { env: { TRUSTED_PROXIES: "2001:db8::/32" } });
});
