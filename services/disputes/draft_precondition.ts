/**
 * Optimistic concurrency on the evidence draft (README "Dispute workbench",
 * Editing together): the draft's entity-tag is its `draft.hash` in quotes
 * (`"3f9c…"`), shown on the dispute and sent as the `ETag` of the evidence
 * save's (or upload's) answer. `If-Match` names the draft a save or an
 * upload was made from and `If-None-Match: *` asks that no draft exist yet; a
 * change whose condition fails is `412 precondition_failed` naming who changed
 * the draft and when, with nothing written. Without either header the last
 * change wins.
 *
 * The GET's weak `ETag` is not a validator for this: it tags the whole answer,
 * whose `time_left_s` moves every second and whose `actions` follow the
 * caller's role, so it never compares strongly (RFC 9110, 13.1.1).
 */
import { AppError } from "../../core/errors.ts";
import { malformedTag, tagsOf } from "../../core/entity_tag.ts";
import { byWhom, type CallContext } from "../../domain/actor.ts";
import type { DraftMeta } from "../../domain/dispute.ts";

/** The request's conditions on the draft (the headers as sent, absent when not). */
export interface DraftConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

/** The draft's entity-tag: its hash, quoted (a strong tag). */
export function draftTag(hash: string): string {
  return `"${hash}"`;
}

/**
 * What is wrong with an `If-Match` / `If-None-Match` header as sent (null: it is `*` or a list
 * of entity-tags). A tag without its quotes (the bare `draft.hash`) or any other text names no
 * draft: told so as the header's own 422, not as a draft changed since (README "Dispute
 * workbench", Editing together).
 */
export function conditionHeaderProblem(
  name: "If-Match" | "If-None-Match",
  header: string,
): string | null {
  const bad = malformedTag(header);
  if (bad === undefined) return null;
  const shown = bad.length > 80 ? `${bad.slice(0, 80)}…` : bad;
  const bare = bad.replace(/^W\//, "").replace(/^"|"$/g, "");
  const quoted = /^[\x21\x23-\x7e]+$/.test(bare) ? `: send ${name}: "${bare}"` : "";
  const takes = name === "If-Match"
    ? 'the draft\'s tag, its draft.hash in double quotes ("<draft.hash>", as the evidence ' +
      "save's or upload's answer sends it in ETag), or *"
    : "*, to save only while there is no draft yet (or entity tags in double quotes)";
  return `${name} takes ${takes}; ${shown} is no entity tag and names no draft${quoted}`;
}

/** Why the save's conditions fail against the draft as it is now (null: they hold). */
function failure(meta: DraftMeta | null, cond: DraftConditions, ctx: CallContext): string | null {
  const current = meta ? draftTag(meta.hash) : null;
  const changed = (m: DraftMeta) =>
    `the evidence draft was changed since you read it: saved ${
      byWhom(m.updated_by, m.updated_at, ctx)
    } (version ${m.version ?? 0}, draft.hash ${m.hash})`;
  if (cond.ifNoneMatch !== undefined) {
    const tags = tagsOf(cond.ifNoneMatch);
    const hit = meta !== null &&
      tags.some((t) => t === "*" || t.replace(/^W\//, "") === current);
    if (hit) {
      return `${changed(meta!)}; If-None-Match: * saves only when there is no draft yet`;
    }
  }
  if (cond.ifMatch === undefined) return null;
  const tags = tagsOf(cond.ifMatch);
  if (tags.includes("*")) {
    return meta ? null : "there is no evidence draft yet, and If-Match: * needs one";
  }
  if (meta && tags.includes(current!)) return null;
  if (!meta) {
    return "there is no evidence draft yet to match: send the first draft without If-Match, " +
      "or with If-None-Match: * to save it only if no one else has";
  }
  if (tags.every((t) => t.startsWith("W/"))) {
    return "If-Match takes the draft's own tag, its draft.hash in quotes " +
      `(now ${current}), as the evidence save answers it in ETag; the weak ETag of ` +
      "GET tags the whole answer and never matches";
  }
  return `${changed(meta)}: read it again, merge your change and send If-Match: ${current}`;
}

/** The 412 when the save's conditions fail (null: save), naming the current draft. */
export function draftPreconditionError(
  id: string,
  meta: DraftMeta | null,
  cond: DraftConditions,
  ctx: CallContext,
): AppError | null {
  const why = failure(meta, cond, ctx);
  if (!why) return null;
  const draft = meta
    ? {
      hash: meta.hash,
      version: meta.version ?? 0,
      updated_by: meta.updated_by,
      updated_at: meta.updated_at,
    }
    : null;
  return new AppError("precondition_failed", `dispute ${id}: ${why}; nothing was saved`, {
    extra: { draft },
  });
}
