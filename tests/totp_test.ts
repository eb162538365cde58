import assert from "node:assert/strict";
import * as OTPAuth from "otpauth";
import {
  matchTotpStep,
  newTotpSecret,
  timeStep,
  totpCode,
  totpUri,
} from "../services/identity/totp.ts";

const SEEDS = {
  SHA1: "12345678901234567890",
  SHA256: "12345678901234567890123456789012",
  SHA512: "1234567890123456789012345678901234567890123456789012345678901234",
} as const;

// RFC 6238, Appendix B (8 digits, 30-second steps).
const VECTORS: [number, string, string, string][] = [
  [59, "94287082", "46119246", "90693936"],
  [1111111109, "07081804", "68084774", "25091201"],
  [1111111111, "14050471", "67062674", "99943326"],
  [1234567890, "89005924", "91819424", "93441116"],
  [2000000000, "69279037", "90698825", "38618901"],
  [20000000000, "65353130", "77737706", "47863826"],
];

const base32 = (latin1: string) => OTPAuth.Secret.fromLatin1(latin1).base32;

Deno.test("totpCode() reproduces every RFC 6238 test vector (8 digits, SHA-1/256/512)", () => {
  for (const [t, sha1, sha256, sha512] of VECTORS) {
    const ms = t * 1000;
    assert.equal(totpCode(base32(SEEDS.SHA1), ms, { digits: 8 }), sha1, `SHA1 at ${t}`);
    assert.equal(
      totpCode(base32(SEEDS.SHA256), ms, { digits: 8, algorithm: "SHA256" }),
      sha256,
      `SHA256 at ${t}`,
    );
    assert.equal(
      totpCode(base32(SEEDS.SHA512), ms, { digits: 8, algorithm: "SHA512" }),
      sha512,
      `SHA512 at ${t}`,
    );
  }
});

Deno.test("totpCode() with 6 digits is the RFC value truncated to its last 6 digits", () => {
  for (const [t, sha1] of VECTORS) {
    assert.equal(totpCode(base32(SEEDS.SHA1), t * 1000), sha1.slice(2), `at ${t}`);
  }
});

Deno.test("matchTotpStep() accepts the previous, current and next step and nothing further", () => {
  const secret = base32(SEEDS.SHA1);
  const now = 1111111111 * 1000;
  const step = timeStep(now);
  const at = (offset: number) => totpCode(secret, now + offset * 30_000);
  assert.equal(matchTotpStep(secret, at(0), now), step);
  assert.equal(matchTotpStep(secret, at(-1), now), step - 1);
  assert.equal(matchTotpStep(secret, at(1), now), step + 1);
  assert.equal(matchTotpStep(secret, at(-2), now), null);
  assert.equal(matchTotpStep(secret, at(2), now), null);
  const near = new Set([at(-1), at(0), at(1)]);
  let wrong = Number(at(0));
  do wrong = (wrong + 1) % 1_000_000; while (near.has(String(wrong).padStart(6, "0")));
  assert.equal(matchTotpStep(secret, String(wrong).padStart(6, "0"), now), null);
});

Deno.test("timeStep() is RFC 6238's T: floor(unix seconds / 30)", () => {
  assert.equal(timeStep(59_000), 1);
  assert.equal(timeStep(1111111109_000), 0x023523EC);
  assert.equal(timeStep(2000000000_000), 0x03F940AA);
});

Deno.test("newTotpSecret() makes distinct 160-bit base32 secrets; totpUri() is scannable", () => {
  const a = newTotpSecret();
  const b = newTotpSecret();
  assert.notEqual(a, b);
  assert.match(a, /^[A-Z2-7]{32}$/);
  const uri = totpUri(a, "ops@example.com");
  assert.match(uri, /^otpauth:\/\/totp\/PayOps:ops%40example\.com\?/);
  assert.ok(uri.includes(`secret=${a}`));
  assert.ok(uri.includes("period=30") && uri.includes("digits=6"));
  const parsed = OTPAuth.URI.parse(uri) as OTPAuth.TOTP;
  assert.equal(parsed.generate({ timestamp: 1_000_000 }), totpCode(a, 1_000_000));
});
