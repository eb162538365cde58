/**
 * What redeeming a code that no longer opens anything answers (README, "Accounts and
 * enrollment"), with the first admin's codes (README, "Deploying to Deno Deploy") told what is
 * possible from where that account stands: a start issues its code again only while it is the
 * only admin and has not enrolled; once it enrolled, or once the store has another admin, only
 * another admin (disabling and re-enabling it) or the break-glass CLI gets it new credentials,
 * and where neither exists (Deno Deploy's own KV, `:memory:`) nothing does through the API.
 */
import { AppError } from "../../core/errors.ts";
import { type AdminRecord, tokenWorks } from "../../domain/admin.ts";
import { FIRST_ADMIN_ACTOR } from "../../domain/system_actors.ts";
import { getAdmin, listAdminEntries } from "../../kv/admins.ts";
import type { Enrollment } from "../../kv/enrollments.ts";
import { getFirstAdminMarker } from "../../kv/first_admin.ts";
import { getSecondFactor } from "../../kv/identity_factors.ts";
import type { IdentityDeps } from "./accounts.ts";
import { invalid, redeemedAlready, unusable } from "./enrollment_refusals.ts";

type Deps = Pick<IdentityDeps, "kv" | "clock" | "storeReachedByCli">;

/** admins looked at for another one that could act */
const SCAN = 200;

/** The refusal of a code that is redeemed, expired, revoked or unknown. */
export async function refusedCode(d: Deps, e: Enrollment | null): Promise<AppError> {
  if (e && e.issued_by === FIRST_ADMIN_ACTOR && e.admin_id && !e.revoked_reason) {
    return await firstAdminRefusal(d, e, e.admin_id);
  }
  return e?.used_at ? redeemedAlready(e) : unusable(e);
}

interface Standing {
  id: string;
  account: AdminRecord | null;
  /** its person holds (or held) credentials: enrolled, or given them by the CLI */
  enrolled: boolean;
  /** another active admin besides it */
  otherAdmin: boolean;
  cli: boolean;
}

async function standing(d: Deps, id: string): Promise<Standing> {
  const [account, factor, admins] = await Promise.all([
    getAdmin(d.kv, id),
    getSecondFactor(d.kv, id),
    listAdminEntries(d.kv, SCAN),
  ]);
  const a = account.value;
  return {
    id,
    account: a,
    enrolled: a !== null &&
      (a.token_issued_at !== undefined || tokenWorks(a) || factor.value !== null),
    otherAdmin: admins.some((x) =>
      x.value.id !== id && x.value.role === "admin" && x.value.status === "active"
    ),
    cli: d.storeReachedByCli === true,
  };
}

/** What gets the account new credentials once no start can. */
function wayBack(s: Standing): string {
  const cli =
    `deno task admin rotate-token --id ${s.id} and deno task admin reset-2fa --id ${s.id}`;
  if (s.otherAdmin) {
    return "ask another admin for a new code at once (disabling and re-enabling the account, " +
      "approved by a second admin, hands one over)" +
      (s.cli ? `; or, break-glass, whoever holds the server's KV runs ${cli}` : "");
  }
  if (s.cli) {
    return "no other admin exists to hand one over: whoever holds the server's KV (KV_PATH) " +
      `runs ${cli} (break-glass) for a new token and second factor`;
  }
  return "no other admin exists, and only this server reaches its store (no KV_PATH the admin " +
    `CLI can open: Deno Deploy's own database, or :memory:), so ${s.id} cannot be recovered ` +
    "through the API. Start over on a new, empty database (on Deno Deploy, a new database " +
    "assigned to the app's environment; deleting the old one deletes everything in it) with " +
    "FIRST_ADMIN_EMAIL and a new FIRST_ADMIN_ENROLLMENT_CODE set";
}

async function firstAdminRefusal(d: Deps, e: Enrollment, id: string): Promise<AppError> {
  const s = await standing(d, id);
  if (e.used_at) {
    return new AppError(
      "enrollment_invalid",
      `this first admin's code was redeemed at ${e.used_at}; each code works once and its ` +
        "credentials were shown once, in the answer that redeemed it. If you sent it twice, " +
        `use what the first answer carried; if that answer was lost, or it was not you, ${
          wayBack(s)
        }`,
      { extra: { redeemed_at: e.used_at } },
    );
  }
  const expired = `this first admin's code expired at ${e.expires_at} (codes last 24 h)`;
  if (!s.account) return invalid(`${expired}, and its account ${id} no longer exists`);
  if (s.enrolled) {
    return invalid(
      `${expired}, and ${id} has enrolled since, with a code issued later: no start issues a ` +
        "code for it again. If you enrolled it, use the credentials that answer carried; if " +
        `they are lost, or it was not you, ${wayBack(s)}`,
    );
  }
  if (s.account.status !== "active") {
    return invalid(
      `${expired}, and ${id} was disabled since: no start issues it again; ask an admin to ` +
        "re-enable it, which hands over a new code",
    );
  }
  if (s.otherAdmin) {
    return invalid(
      `${expired}; the store has another admin now, so no start issues a code for ${id} ` +
        `again: ${wayBack(s)}`,
    );
  }
  const again = "start the server again with FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE " +
    "set (a new deployment on Deno Deploy): while that admin has not enrolled, a start issues " +
    "the code then set again for 24 h";
  const marker = (await getFirstAdminMarker(d.kv)).value;
  if (!marker || marker.admin_id !== id || marker.code_hash === e.code_hash) {
    return invalid(`${expired}; ${again} (this one, if it is still set)`);
  }
  if (Date.parse(marker.expires_at) > d.clock.now()) {
    return invalid(
      `${expired}, and a later start issued another code for ${id} (the ` +
        `FIRST_ADMIN_ENROLLMENT_CODE set then), valid until ${marker.expires_at}: redeem that one`,
    );
  }
  return invalid(
    `${expired}, and so did the code a later start issued for ${id} in its place (at ` +
      `${marker.expires_at}); ${again}`,
  );
}
