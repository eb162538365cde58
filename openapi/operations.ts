/**
 * Every operation gets a stable camelCase `operationId` and an explicit
 * `security` (public ones `[]`), set here once for the whole document so a
 * route added anywhere gets them too. A route may name its own `operationId`;
 * otherwise it is derived from the method and the path template:
 *
 *   GET  /refunds            listRefunds       POST /refunds              createRefund
 *   GET  /refunds/{id}       getRefund         POST /refunds/{id}/approve approveRefund
 *   PATCH /users/{id}        updateUser        DELETE /fraud/snoozes/{id} deleteFraudSnooze
 *
 * The derivation depends only on method and path, so ids stay put as long as
 * the routes do (client code generated from them keeps compiling).
 */

/** Prefixes that every admin route shares; they add nothing to a name. */
const PREFIXES = ["/api/admin/payments", "/api/admin", "/api"];

const VERBS: Record<string, string> = {
  post: "create",
  put: "replace",
  patch: "update",
  delete: "delete",
};

function words(segment: string): string[] {
  return segment.split(/[-_]/).filter(Boolean);
}

function pascal(ws: string[]): string {
  return ws.map((w) => w[0].toUpperCase() + w.slice(1)).join("");
}

function singular(word: string): string {
  if (/ies$/.test(word)) return word.slice(0, -3) + "y";
  if (/(ss|us)$/.test(word)) return word;
  return word.replace(/s$/, "");
}

export function deriveOperationId(method: string, path: string): string {
  const m = method.toLowerCase();
  const prefix = PREFIXES.find((p) => path === p || path.startsWith(`${p}/`)) ?? "";
  const parts = path.slice(prefix.length).split("/").filter(Boolean);
  const isParam = (s: string | undefined) => s !== undefined && s.startsWith("{");
  const last = parts.at(-1);
  // POST /x/{id}/approve, POST /me/rotate-token: the last segment is the action
  // (a plural one is a collection: POST /disputes/{id}/notes creates a note)
  const action = m === "post" && last && !isParam(last) && parts.length > 1 && !/s$/.test(last)
    ? last
    : null;
  const nameParts = action ? parts.slice(0, -1) : parts;
  const nouns: string[] = [];
  nameParts.forEach((p, i) => {
    if (isParam(p)) return;
    const ws = words(p);
    // a collection named before an id, or created by a POST, is one item of it
    const one = isParam(nameParts[i + 1]) || (m !== "get" && i === nameParts.length - 1);
    if (one) ws[ws.length - 1] = singular(ws[ws.length - 1]);
    nouns.push(...ws);
  });
  let verb: string;
  if (action) verb = words(action).map((w, i) => i ? pascal([w]) : w).join("");
  else if (m === "get") verb = !isParam(last) && /s$/.test(last ?? "") ? "list" : "get";
  else verb = VERBS[m] ?? m;
  const id = verb + pascal(nouns);
  return id.replace(/[^A-Za-z0-9]/g, "");
}

type Operation = { operationId?: string; security?: unknown[] };
// deno-lint-ignore no-explicit-any
type Document = { paths?: any };

const METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options", "trace"]);

/** Fills in operationId and security on every operation; throws on a duplicate id. */
export function finalizeOperations<D extends Document>(doc: D): D {
  const seen = new Map<string, string>();
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      op.operationId ??= deriveOperationId(method, path);
      op.security ??= [];
      const where = `${method.toUpperCase()} ${path}`;
      const other = seen.get(op.operationId);
      if (other) throw new Error(`operationId ${op.operationId} of ${where} is ${other}'s too`);
      seen.set(op.operationId, where);
    }
  }
  return doc;
}
