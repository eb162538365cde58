/**
 * Whether AUDIT_SIGNING_KEY opens what the store holds: a key that was
 * changed without keeping the old one in the list (README, "Secrets a
 * deployment must set") leaves the server starting fine while every second
 * factor answers `503 configuration_error`. Read only: it opens a sample of
 * the sealed TOTP secrets with the configured keys.
 */
import type { Config } from "../config.ts";
import { keys } from "../kv/keys.ts";
import { IdentityKeys } from "../services/identity/crypto.ts";
import type { SecondFactorRecord } from "../kv/identity_factors.ts";
import type { Finding } from "./doctor_checks.ts";
import { adminCommand, denoTask } from "./store_command.ts";

/** how many enrolled second factors are tried */
const SAMPLE = 200;

/**
 * Opens up to `SAMPLE` sealed TOTP secrets with `signingKey` (and the older keys listed): how many
 * were tried, and whose none of them opens. With `firstOpens` it stops at the first that opens.
 */
export async function trySealedSecrets(
  kv: Deno.Kv,
  signingKey: string,
  older: string[],
  options: { firstOpens?: boolean } = {},
): Promise<{ tried: number; failed: string[] }> {
  const identity = new IdentityKeys(signingKey, older);
  const failed: string[] = [];
  let tried = 0;
  for await (
    const row of kv.list<SecondFactorRecord>({ prefix: keys.adminSecondFactorPrefix() }, {
      limit: SAMPLE,
    })
  ) {
    tried++;
    try {
      await identity.unseal(row.value.sealed_totp_secret, row.value.admin_id);
      if (options.firstOpens) break;
    } catch {
      failed.push(row.value.admin_id);
    }
  }
  return { tried, failed };
}

export async function checkSigningKeyOpens(
  kv: Deno.Kv,
  config: Config,
): Promise<Finding[]> {
  // Only demo mode uses the key kept in KV; outside it an unset AUDIT_SIGNING_KEY is
  // already a failure of its own ("signing key"), and there is nothing to try.
  const signingKey = config.auditSigningKey ??
    (config.demo
      ? (await kv.get<string>(keys.secret("audit_signing_key"))).value ?? undefined
      : undefined);
  if (!signingKey) return [];
  const named = config.auditSigningKey ? "AUDIT_SIGNING_KEY" : "the demo's generated signing key";
  const { tried, failed } = await trySealedSecrets(kv, signingKey, config.auditSigningKeys ?? []);
  if (tried === 0) return [];
  if (failed.length === 0) {
    return [{
      check: "signing key opens",
      severity: "ok",
      detail: `${named} opens the sealed TOTP secrets (${tried} checked)`,
    }];
  }
  return [{
    check: "signing key opens",
    severity: "fail",
    detail: `${failed.length} of ${tried} sealed TOTP secrets open with none of the ` +
      `AUDIT_SIGNING_KEY keys (${failed.slice(0, 3).join(", ")}${
        failed.length > 3 ? ", …" : ""
      }): their second factor, and every 2FA action of theirs, fails with 503`,
    fix: "put the key they were sealed with back into AUDIT_SIGNING_KEY, after the current one " +
      "(comma-separated; README, Secrets a deployment must set), or reset those accounts' " +
      `second factor (\`${adminCommand(config.kvPath) ?? denoTask("admin")} reset-2fa --id …\`)`,
  }];
}
