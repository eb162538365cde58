/**
 * The admin CLI's command line: its usage text and the parser that turns
 * arguments into one command (a `UsageError` names what is wrong).
 */
import { isRole, ROLES } from "../domain/permissions.ts";

export const USAGE = `usage: deno task admin <command> [options]

commands:
  create --email EMAIL --role ROLE [--json]   create an admin; prints its API token, TOTP secret,
                                              otpauth:// URI and recovery codes ONCE
  list [--json]                               list admins
  disable --id ID [--json]                    disable an admin (its token stops working at once)
  enable --id ID [--json]                     re-enable a disabled admin; prints an enrollment code
                                              for new credentials (its old ones stay revoked)
  set-role --id ID --role ROLE [--json]       change an admin's role at once (break-glass: no
                                              second admin)
  reset-2fa --id ID [--json]                  new TOTP secret and recovery codes (shown once)
  rotate-token --id ID [--json]               new API token (shown once); the old one stops working
disable and set-role never leave no active admin: create or enable another admin first.

roles: ${ROLES.join(", ")}
environment (the server's): KV_PATH (default ./data/kv.sqlite3; a KV Connect URL needs
  DENO_KV_ACCESS_TOKEN), AUDIT_SIGNING_KEY (required outside demo mode; in demo mode the one
  kept in KV)`;

export class UsageError extends Error {}

export interface Command {
  verb: "create" | "list" | "disable" | "enable" | "set-role" | "reset-2fa" | "rotate-token";
  email?: string;
  role?: string;
  id?: string;
  json: boolean;
}

const FLAGS: Record<Command["verb"], { required: string[]; optional: string[] }> = {
  create: { required: ["email", "role"], optional: ["json"] },
  list: { required: [], optional: ["json"] },
  disable: { required: ["id"], optional: ["json"] },
  enable: { required: ["id"], optional: ["json"] },
  "set-role": { required: ["id", "role"], optional: ["json"] },
  "reset-2fa": { required: ["id"], optional: ["json"] },
  "rotate-token": { required: ["id"], optional: ["json"] },
};

export function parseArgs(args: string[]): Command {
  const [verb, ...rest] = args;
  if (!verb || !(verb in FLAGS)) {
    throw new UsageError(verb ? `unknown command "${verb}"` : "no command given");
  }
  const spec = FLAGS[verb as Command["verb"]];
  const values: Record<string, string> = {};
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(rest[i]);
    if (!m) throw new UsageError(`unexpected argument "${rest[i]}"`);
    const name = m[1];
    if (name === "json" && m[2] === undefined && spec.optional.includes("json")) {
      json = true;
      continue;
    }
    if (!spec.required.includes(name)) throw new UsageError(`unknown option --${name} for ${verb}`);
    const value = m[2] ?? rest[++i];
    if (value === undefined || value.startsWith("--") || value === "") {
      throw new UsageError(`--${name} needs a value`);
    }
    values[name] = value;
  }
  for (const name of spec.required) {
    if (values[name] === undefined) throw new UsageError(`${verb} needs --${name}`);
  }
  if (values.role !== undefined && !isRole(values.role)) {
    throw new UsageError(`unknown role "${values.role}"`);
  }
  return { verb: verb as Command["verb"], ...values, json };
}
