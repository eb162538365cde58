/**
 * What demo mode tells the person who started it (README, Quick start): the
 * credentials box at the first start, the note on a restart. Every CLI line
 * names the server's KV_PATH when it is not the default, or the CLI would open
 * another store (an admin made there gets 401 from this server), quoted for a
 * POSIX shell when it needs it, so the pasted line names the same store. On
 * `:memory:`, which no CLI reaches (the CLIs refuse it), no CLI line is printed.
 */
import { adminCommand } from "./store_command.ts";

export { adminCommand, denoTask, shellWord } from "./store_command.ts";

export const DEMO_EMAIL = "demo@example.com";

/** What the credentials box shows: the demo admin's, once. */
export interface ShownCredentials {
  admin: { id: string; email: string };
  token: string;
  totp_secret: string;
  otpauth_uri: string;
  recovery_codes: string[];
}

/** Said instead of a CLI line on `KV_PATH=:memory:`. */
export const IN_MEMORY =
  "this in-memory store (KV_PATH=:memory:) is reached only through the API; " +
  "no `deno task admin` reaches it";

/** Where the approver of the 1,200.00 refund comes from. */
function secondPerson(admin: string | null): string[] {
  return admin
    ? [
      "    approves exactly what they read, by its approval.hash (TOKEN2, from:",
      `    ${admin} create --email second@example.com --role operator):`,
    ]
    : [
      "    approves exactly what they read, by its approval.hash (TOKEN2: this in-memory store,",
      "    KV_PATH=:memory:, is reached only through the API, where an operator made with",
      "    POST /api/admin/users waits for a second admin; start on a file KV_PATH to try it):",
    ];
}

function tryNext(
  port: number,
  token: string,
  totpFrom: string,
  admin: string | null,
  restart = false,
): string[] {
  const base = `http://localhost:${port}`;
  return [
    "  Try next:",
    `    export TOKEN=${token}`,
    `    curl -s ${base}/api/admin/me -H "Authorization: Bearer $TOKEN"`,
    `    curl -s "${base}/api/admin/payments/transactions?limit=5" -H "Authorization: Bearer $TOKEN"`,
    `    curl -s ${base}/api/admin/payments/ops-alerts -H "Authorization: Bearer $TOKEN"`,
    `    a refund needs a TOTP code ${totpFrom}, and a succeeded payment's txn_ id from the list:`,
    `    curl -s ${base}/api/admin/payments/refunds -H "Authorization: Bearer $TOKEN" \\`,
    '      -H "X-OTP-Code: 123456" -H "Content-Type: application/json" \\',
    `      -d '{"transaction_id":"txn_...","reason":"requested_by_customer","note":"demo"}'`,
    // on a restart it may have been refunded already, in an earlier session
    restart
      ? "    one of the 1,200.00 payment (if not refunded yet) waits (202) for another operator or"
      : "    one of the 1,200.00 payment waits (202) for another operator or admin, who reads it and",
    ...(restart ? ["    admin, who reads it and"] : []),
    ...secondPerson(admin),
    `    curl -s ${base}/api/admin/payments/refunds/rfd_... -H "Authorization: Bearer $TOKEN2"`,
    `    curl -s -X POST ${base}/api/admin/payments/refunds/rfd_.../approve \\`,
    '      -H "Authorization: Bearer $TOKEN2" -H "X-OTP-Code: 654321" \\',
    `      -H "Content-Type: application/json" -d '{"approval_hash":"<its approval.hash>"}'`,
    "",
    `  API docs:  ${base}/docs  (Authorize -> bearerAuth -> the token)`,
    "",
  ];
}

/** Shown once, on purpose: the token and TOTP secret are never stored in clear. */
export function credentialsBox(
  creds: ShownCredentials,
  port: number,
  kvPath: string | undefined,
): string {
  return [
    "",
    "  Demo admin created (shown once; keep it somewhere safe):",
    `    email         ${creds.admin.email}`,
    `    token         ${creds.token}`,
    `    totp secret   ${creds.totp_secret}`,
    `    otpauth uri   ${creds.otpauth_uri}`,
    `    recovery      ${creds.recovery_codes.join(" ")}`,
    "",
    ...tryNext(
      port,
      creds.token,
      "from the secret above (add it to an authenticator app)",
      adminCommand(kvPath),
    ),
  ].join("\n");
}

/** A restart on existing data: the token was shown once, at the first start; say how to get another. */
export function existingAdminNote(
  admins: { id: string; email: string }[],
  port: number,
  kvPath: string | undefined,
): string {
  const demo = admins.find((a) => a.email === DEMO_EMAIL);
  // the CLI opens the same store only when told where it is
  const admin = adminCommand(kvPath);
  if (!demo) {
    // the first admin came from `deno task admin create`, whose output carried its token
    return [
      "",
      ...(admin
        ? [
          `  This store has ${admins.length} admin(s) already, made with \`deno task admin\`, not by the`,
          "  demo: use the token `deno task admin create` printed. To see them:",
          `    ${admin} list`,
        ]
        : [
          `  This store has ${admins.length} admin(s) already, not made by the demo. To see them:`,
          "    GET /api/admin/users (this in-memory store, KV_PATH=:memory:, is reached only",
          "    through the API)",
        ]),
      "",
    ].join("\n");
  }
  const id = demo.id;
  return [
    "",
    `  The demo admin exists already (${demo.email}); its token was shown at the`,
    ...(admin
      ? [
        "  first start. For a new one (the old one stops working):",
        `    ${admin} rotate-token --id ${id}`,
        `  (the TOTP secret: ${admin} reset-2fa --id ${id})`,
      ]
      : [
        "  first start. A new one: POST /api/admin/me/rotate-token with its second factor",
        "  (this in-memory store, KV_PATH=:memory:, is reached only through the API).",
      ]),
    "",
    ...tryNext(
      port,
      "<the new token>",
      "from the authenticator app holding its secret",
      admin,
      true,
    ),
  ].join("\n");
}
