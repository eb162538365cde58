/**
 * Secrets of the identity service and how they rest in KV:
 *   - API and step-up tokens: 256 random bits, stored only as SHA-256 (hex);
 *   - TOTP secrets: sealed with AES-256-GCM under a key derived (HKDF) from
 *     the audit signing key with its own purpose label, bound to the admin id;
 *   - recovery codes: stored as HMAC-SHA256 under another derived key, because
 *     their 40 bits would fall to an offline search of a bare hash.
 */
import { b64url, fromB64url, hex, sha256Hex } from "../../core/encoding.ts";
import { AppError } from "../../core/errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export const API_TOKEN_PREFIX = "pot_";
export const STEP_UP_TOKEN_PREFIX = "psu_";
/** `pot_` + base64url of 32 bytes */
export const API_TOKEN_FORMAT = /^pot_[A-Za-z0-9_-]{43}$/;
export const STEP_UP_TOKEN_FORMAT = /^psu_[A-Za-z0-9_-]{43}$/;
/** `xxxx-xxxx` from an alphabet without look-alikes (no 0/o, 1/l/i) */
export const RECOVERY_CODE_FORMAT = /^[a-z2-9]{4}-[a-z2-9]{4}$/i;
const RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";
export const RECOVERY_CODE_COUNT = 8;

/** A fresh bearer token: `pot_` + 256 random bits. */
export function newApiToken(): string {
  return API_TOKEN_PREFIX + b64url(crypto.getRandomValues(new Uint8Array(32)));
}

export function newStepUpToken(): string {
  return STEP_UP_TOKEN_PREFIX + b64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** SHA-256 (hex) of a token: the only form a token takes at rest. */
export function hashToken(token: string): Promise<string> {
  return Promise.resolve(sha256Hex(token));
}

/** Recovery codes: 8 × `xxxx-xxxx` (≈ 39 bits each). */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  const codes: string[] = [];
  while (codes.length < count) {
    // Rejection sampling keeps every character equally likely.
    const picked: string[] = [];
    while (picked.length < 8) {
      for (const b of crypto.getRandomValues(new Uint8Array(16))) {
        if (b < 248 && picked.length < 8) picked.push(RECOVERY_ALPHABET[b % 31]);
      }
    }
    const code = `${picked.slice(0, 4).join("")}-${picked.slice(4).join("")}`;
    if (!codes.includes(code)) codes.push(code);
  }
  return codes;
}

/**
 * The keys derived from one signing key, one per purpose. Derived on first use,
 * not when the services are built: a derivation nobody awaits would still be
 * running when a short test (or a CLI verb that needs no key) finishes.
 */
class DerivedKeys {
  #signingKey: string;
  #sealKey?: Promise<CryptoKey>;
  #recoveryKey?: Promise<CryptoKey>;

  constructor(signingKey: string) {
    this.#signingKey = signingKey;
  }

  #derive(info: string, algorithm: AesKeyGenParams | HmacKeyGenParams, usage: KeyUsage[]) {
    return crypto.subtle.importKey("raw", enc.encode(this.#signingKey), "HKDF", false, [
      "deriveKey",
    ]).then((k) =>
      crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: enc.encode("payops-identity"),
          info: enc.encode(info),
        },
        k,
        algorithm,
        false,
        usage,
      )
    );
  }

  get seal(): Promise<CryptoKey> {
    return this.#sealKey ??= this.#derive(
      "totp-secret-seal:v1",
      { name: "AES-GCM", length: 256 },
      ["encrypt", "decrypt"],
    );
  }

  get recovery(): Promise<CryptoKey> {
    return this.#recoveryKey ??= this.#derive(
      "recovery-code-hash:v1",
      { name: "HMAC", hash: "SHA-256" },
      ["sign"],
    );
  }
}

/**
 * Sealing and hashing with AUDIT_SIGNING_KEY: the first key seals and hashes,
 * every key in the list opens and matches (rotation, newest first).
 */
export class IdentityKeys {
  #keys: DerivedKeys[];

  constructor(signingKey: string, older: string[] = []) {
    this.#keys = [signingKey, ...older.filter((k) => k !== signingKey)].map((k) =>
      new DerivedKeys(k)
    );
  }

  /** Seals `secret` for `adminId`: `v1.<iv>.<ciphertext>`; unsealing under another id fails. */
  async seal(secret: string, adminId: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: enc.encode(adminId) },
      await this.#keys[0].seal,
      enc.encode(secret),
    );
    return `v1.${b64url(iv)}.${b64url(new Uint8Array(ct))}`;
  }

  /**
   * Opens a sealed secret with any configured key. A secret none of them opens
   * is a configuration problem (a key was changed without keeping the old one
   * in the list): `503 configuration_error`, never a 500.
   */
  async unseal(sealed: string, adminId: string): Promise<string> {
    const [version, iv, ct] = sealed.split(".");
    if (version !== "v1" || !iv || !ct) throw new Error("sealed TOTP secret has an unknown format");
    for (const k of this.#keys) {
      try {
        const clear = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: fromB64url(iv), additionalData: enc.encode(adminId) },
          await k.seal,
          fromB64url(ct),
        );
        return dec.decode(clear);
      } catch {
        // not this key: try the next one
      }
    }
    throw new AppError(
      "configuration_error",
      "this admin's TOTP secret was sealed with a key AUDIT_SIGNING_KEY does not hold: set " +
        "AUDIT_SIGNING_KEY to a list with the current key first and the key the account was " +
        "created with after it (comma-separated), or reset the account's second factor",
      { extra: { setting: "AUDIT_SIGNING_KEY" } },
    );
  }

  /** HMAC (hex) of a recovery code, case-insensitive, with the signing key. */
  async hashRecoveryCode(code: string): Promise<string> {
    return (await this.recoveryCodeHashes(code))[0];
  }

  /** The code's HMAC under every configured key (a match under any is the code). */
  async recoveryCodeHashes(code: string): Promise<string[]> {
    return await Promise.all(
      this.#keys.map(async (k) =>
        hex(await crypto.subtle.sign("HMAC", await k.recovery, enc.encode(code.toLowerCase())))
      ),
    );
  }
}
