/**
 * The first admin of a store with none, made at start-up from FIRST_ADMIN_EMAIL and
 * FIRST_ADMIN_ENROLLMENT_CODE (README, "Deploying to Deno Deploy"), for a deployment whose KV
 * only the server reaches: an `admin` account with no credentials yet and the operator's code
 * as its enrollment code (stored as its SHA-256 only), redeemed at `POST /api/admin/enroll`
 * like any other, once.
 *
 * - A store with no admin and no marker: the account, its code and the marker in one audited
 *   commit that checks the marker absent, with the `admin_created` ops alert the break-glass
 *   CLI raises; of isolates starting together one commits, the others find the marker.
 * - The account made so, still the only admin, never enrolled and active: its code waits (a
 *   start changes nothing) until it expires; a start after that issues the code given then for
 *   the same account, for 24 h more, audited (`user.enrollment_reissue`). Never a second account.
 * - Anything else (an admin made otherwise, the first admin enrolled): the variables do nothing
 *   but a warning to remove them.
 * - FIRST_ADMIN_EMAIL other than the email of the account waiting to enroll: ignored (the code is
 *   issued for that account alone), with a warning that says it differs.
 */
import { systemContext } from "../../domain/actor.ts";
import { FIRST_ADMIN_ACTOR } from "../../domain/system_actors.ts";
import type { FirstAdminMarker } from "../../domain/first_admin.ts";
import { type AdminRecord, canonicalEmail } from "../../domain/admin.ts";
import { addCreateAdmin, listAdminEntries } from "../../kv/admins.ts";
import { type Enrollment, getEnrollment } from "../../kv/enrollments.ts";
import { getSecondFactor, type SecondFactorRecord } from "../../kv/identity_factors.ts";
import {
  addReissuedEnrollment,
  addSetFirstAdminMarker,
  getFirstAdminMarker,
} from "../../kv/first_admin.ts";
import type { AuditInput } from "../audit/mod.ts";
import { adminView, breakGlass, type IdentityDeps } from "./accounts.ts";
import { addGrantAlert } from "./account_change.ts";
import { addIssuedCode, codeOf, ENROLLMENT_TTL_MS } from "./enrollment.ts";
import { newAccount } from "./invites.ts";
import { hashToken } from "./crypto.ts";
import { type FirstAdminOutcome, reportFirstAdmin } from "./first_admin_report.ts";

export type { FirstAdminOutcome } from "./first_admin_report.ts";

export interface FirstAdminInput {
  email: string;
  code: string;
}

/** What the decision is made on: every entry it reads, to check in the commit that acts. */
interface State {
  marker: Deno.KvEntryMaybe<FirstAdminMarker>;
  /** up to two admins, oldest first */
  admins: Deno.KvEntry<AdminRecord>[];
  factor: Deno.KvEntryMaybe<SecondFactorRecord> | null;
  code: Deno.KvEntryMaybe<Enrollment> | null;
}

type Decision =
  | { kind: "create" }
  | { kind: "reissue"; marker: FirstAdminMarker; account: Deno.KvEntry<AdminRecord> }
  | { kind: "done"; outcome: FirstAdminOutcome };

const target = (id: string) => ({ type: "admin", id });

/**
 * The entries, read until the marker is the same before and after: the start that makes the
 * first admin writes the account and the marker in one commit, so a listing taken between two
 * equal reads of the marker agrees with it (never the account without its marker, or the reverse).
 */
async function readState(kv: Deno.Kv): Promise<State> {
  for (let attempt = 0;; attempt++) {
    const marker = await getFirstAdminMarker(kv);
    const m = marker.value;
    const state: State = {
      marker,
      admins: await listAdminEntries(kv, 2),
      factor: m ? await getSecondFactor(kv, m.admin_id) : null,
      code: m ? await getEnrollment(kv, m.code_hash) : null,
    };
    const again = await getFirstAdminMarker(kv);
    if (again.versionstamp === marker.versionstamp || attempt >= 4) return state;
  }
}

function decide(s: State, codeHash: string, now: number): Decision {
  const m = s.marker.value;
  if (!m) {
    if (s.admins.length === 0) return { kind: "create" };
    return unused("the store has an admin, made otherwise than from these variables");
  }
  const account = s.admins.find((a) => a.value.id === m.admin_id);
  if (!account && s.admins.length === 0) {
    return unused(`the store no longer holds ${m.admin_id}, the admin they made`);
  }
  if (!account || s.admins.length > 1) {
    return unused(`the store has an admin besides ${m.admin_id}, the one they made`);
  }
  const a = account.value;
  if (a.token_issued_at !== undefined || s.factor?.value || s.code?.value?.used_at) {
    return unused(`${a.id} <${a.email}>, the admin they made, has enrolled`);
  }
  if (a.status !== "active") return unused(`${a.id}, the admin they made, is disabled`);
  const code = s.code?.value;
  if (code && !code.revoked_reason && Date.parse(code.expires_at) > now) {
    return {
      kind: "done",
      outcome: {
        outcome: "waiting",
        admin_id: a.id,
        email: a.email,
        expires_at: code.expires_at,
        same_code: m.code_hash === codeHash,
      },
    };
  }
  return { kind: "reissue", marker: m, account };
}

function unused(reason: string): Decision {
  return { kind: "done", outcome: { outcome: "unused", reason } };
}

/**
 * What a start would do now, read only (the doctor): `create` and `reissue` are what it would
 * write, any other outcome what it would log.
 */
export async function previewFirstAdmin(
  kv: Deno.Kv,
  input: FirstAdminInput,
  now: number,
): Promise<
  FirstAdminOutcome | { outcome: "create" } | {
    outcome: "reissue";
    admin_id: string;
    email: string;
  }
> {
  const decision = decide(await readState(kv), await hashToken(input.code), now);
  if (decision.kind === "reissue") {
    const a = decision.account.value;
    return { outcome: "reissue", admin_id: a.id, email: a.email };
  }
  return decision.kind === "done" ? decision.outcome : { outcome: decision.kind };
}

/**
 * FIRST_ADMIN_EMAIL when it is not the email of the account `outcome` waits for (or issued a
 * code again for): it is ignored, and a start or the doctor says so. Null when it is the same.
 */
export function ignoredEmail(
  outcome: { outcome: string; email?: string },
  input: FirstAdminInput,
): string | null {
  if (!["waiting", "reissued", "reissue"].includes(outcome.outcome) || !outcome.email) return null;
  const given = canonicalEmail(input.email) ?? input.email;
  return given === outcome.email ? null : given;
}

/** Makes, or issues again, the first admin as the store stands; logs what it did. */
export async function startFirstAdmin(
  d: IdentityDeps,
  input: FirstAdminInput,
): Promise<FirstAdminOutcome> {
  const ctx = systemContext(FIRST_ADMIN_ACTOR);
  const codeHash = await hashToken(input.code);
  const first = decide(await readState(d.kv), codeHash, d.clock.now());
  const outcome = first.kind === "done" ? first.outcome : await d.audit.commit(ctx, async (op) => {
    // decided again on what this commit checks: an isolate that lost the race finds the marker
    const state = await readState(d.kv);
    const decision = decide(state, codeHash, d.clock.now());
    if (decision.kind === "done") return { value: decision.outcome, audit: [] };
    op.check(state.marker);
    for (const a of state.admins) op.check(a);
    if (state.factor) op.check(state.factor);
    if (decision.kind === "create") return await addCreate(d, op, input, state.marker);
    return await addReissue(d, op, input, codeHash, state, decision);
  });
  reportFirstAdmin(d, outcome);
  const ignored = ignoredEmail(outcome, input);
  if (ignored !== null && outcome.outcome !== "unused" && outcome.outcome !== "created") {
    // the log masks both emails: the words say they differ
    d.log.warn(
      "FIRST_ADMIN_EMAIL differs from the email of the first admin waiting to enroll, and is " +
        `ignored: a start issues codes for ${outcome.admin_id} alone. Enroll that account, then ` +
        "make the others from it (POST /api/admin/users)",
      { admin_id: outcome.admin_id, email: outcome.email, first_admin_email: ignored },
    );
  }
  return outcome;
}

async function addCreate(
  d: IdentityDeps,
  op: Deno.AtomicOperation,
  input: FirstAdminInput,
  marker: Deno.KvEntryMaybe<FirstAdminMarker>,
): Promise<{ value: FirstAdminOutcome; audit: AuditInput[] }> {
  const ctx = systemContext(FIRST_ADMIN_ACTOR);
  const account = await newAccount(d, input.email, "admin", ctx.actor.id);
  const link = { admin_id: account.id, approval_id: null };
  // issued in the very commit that makes the account: the code opens it as made
  const issued = await codeOf(input.code, ctx, "account", link, Date.parse(account.created_at));
  addCreateAdmin(op, account);
  addIssuedCode(op, issued.record);
  addSetFirstAdminMarker(op, marker, {
    admin_id: account.id,
    email: account.email,
    created_at: account.created_at,
    code_hash: issued.record.code_hash,
    issued_at: issued.record.issued_at,
    expires_at: issued.record.expires_at,
  });
  const audit: AuditInput[] = [{
    action: "user.create",
    target: target(account.id),
    result: "ok",
    after: { ...adminView(account), enrollment_expires_at: issued.record.expires_at },
    reason: breakGlass(ctx),
  }, addGrantAlert(d, ctx, op, account, "create")];
  return {
    value: {
      outcome: "created",
      admin_id: account.id,
      email: account.email,
      expires_at: issued.record.expires_at,
    },
    audit,
  };
}

async function addReissue(
  d: IdentityDeps,
  op: Deno.AtomicOperation,
  input: FirstAdminInput,
  codeHash: string,
  state: State,
  decision: Extract<Decision, { kind: "reissue" }>,
): Promise<{ value: FirstAdminOutcome; audit: AuditInput[] }> {
  const ctx = systemContext(FIRST_ADMIN_ACTOR);
  const { marker, account } = decision;
  const link = { admin_id: account.value.id, approval_id: null };
  const issued = await codeOf(input.code, ctx, "account", link, d.clock.now());
  // the same code's expired record, or the new code's key (any record there is checked)
  const over = codeHash === marker.code_hash
    ? state.code ?? await getEnrollment(d.kv, codeHash)
    : await getEnrollment(d.kv, codeHash);
  if (over.value?.used_at) {
    return {
      value: { outcome: "unused", reason: "FIRST_ADMIN_ENROLLMENT_CODE was redeemed before" },
      audit: [],
    };
  }
  addReissuedEnrollment(op, over, issued.record, ENROLLMENT_TTL_MS);
  addSetFirstAdminMarker(op, state.marker, {
    ...marker,
    code_hash: codeHash,
    issued_at: issued.record.issued_at,
    expires_at: issued.record.expires_at,
  });
  const expired = state.code?.value?.expires_at ?? marker.expires_at;
  return {
    value: {
      outcome: "reissued",
      admin_id: account.value.id,
      email: account.value.email,
      expires_at: issued.record.expires_at,
    },
    audit: [{
      action: "user.enrollment_reissue",
      target: target(account.value.id),
      result: "ok",
      before: { enrollment_expires_at: expired },
      after: { enrollment_expires_at: issued.record.expires_at },
      reason: `the first admin's code expired unused; ${breakGlass(ctx)}`,
    }],
  };
}
