/**
 * Which Deno serves the store, stamped in it. Deno KV keeps every value but a
 * Uint8Array or a KvU64 in V8's serializer format, headed by its version, and
 * a Deno reads no version newer than its own writes: Deno 2.9 writes version
 * 16, Deno 2.5 (Deno Deploy, README "Deploying to Deno Deploy") writes 15 and
 * cannot read 16 ("could not deserialize value"). Deno offers no way to write
 * an older version, so a process that would write values the serving Deno
 * cannot read, or that cannot read the store's, is refused at start, before it
 * writes anything, with both versions named and the fix.
 *
 * The stamp is a Uint8Array (JSON), which every Deno reads. The server stamps
 * its Deno at each start: it serves the store. On a local file a server on a
 * newer Deno takes the store over (Deno was upgraded); through a KV Connect URL
 * another server (the deployment) may still serve it, so a newer one refuses
 * unless told it replaces that one (KV_RUNTIME_TAKEOVER=1, README
 * "Configuration"). The admin CLI and the backfill
 * compare theirs with it and never move it; only a process starting a new
 * local store stamps that one. A store without the stamp (written before it)
 * is taken as it is, except through a KV Connect URL, where the CLI cannot
 * tell which Deno serves it and waits for the server to start once.
 */
import { keys } from "./keys.ts";
import { isEmpty, isUnreadableValue, StoreLayoutError } from "./layout.ts";

export interface StoreRuntime {
  /** `Deno.version.deno` */
  deno: string;
  /** the V8 serializer version this Deno writes; null when it cannot be told */
  serializer: number | null;
  /** who stamped it: the server, or a CLI that started a new local store */
  by?: StoreRole;
}

/** Who is opening the store: the one that serves it, a CLI that writes, the doctor (reads). */
export type StoreRole = "server" | "cli" | "doctor";

export interface RuntimeCheck {
  role: StoreRole;
  /** the store is a KV Connect URL: another process (a deployment) serves it */
  remote: boolean;
  /** the task named in the fix (`admin`, `backfill`, `doctor`, `start`) */
  task: string;
  /**
   * the server replaces the one an older Deno ran on a KV Connect store, and
   * stamps it (KV_RUNTIME_TAKEOVER=1); the CLI and the doctor ignore it
   */
  takeover?: boolean;
}

/** The environment variable that lets a newer Deno's server take a KV Connect store over. */
export const TAKEOVER_VARIABLE = "KV_RUNTIME_TAKEOVER";

export class StoreRuntimeError extends StoreLayoutError {}

/** What `judgeRuntime` decided: go on (stamping the store or not), or refuse, saying why. */
export type Verdict =
  | { ok: true; stamp: boolean; note?: string }
  | { ok: false; message: string; fix: string; unreadable: boolean };

type DenoCore = { serialize?: (v: unknown, o: { forStorage: boolean }) => Uint8Array };

/**
 * This Deno and the serializer version it writes: the header of a value
 * serialized as Deno KV serializes one (0xFF, then the version as a varint).
 */
export function currentRuntime(): StoreRuntime {
  let serializer: number | null = null;
  try {
    const internal = (Deno as unknown as Record<symbol, { core?: DenoCore }>)[
      (Deno as unknown as { internal: symbol }).internal
    ];
    const bytes = internal?.core?.serialize?.(0, { forStorage: true });
    if (bytes && bytes[0] === 0xff) serializer = readVarint(bytes, 1);
  } catch { /* not offered by this runtime: told by the Deno version instead */ }
  return { deno: Deno.version.deno, serializer };
}

function readVarint(bytes: Uint8Array, at: number): number | null {
  let value = 0;
  for (let shift = 0; at < bytes.length && shift < 28; shift += 7) {
    const b = bytes[at++];
    value |= (b & 0x7f) << shift;
    if (!(b & 0x80)) return value;
  }
  return null;
}

/**
 * The stamp (`value` null when there is none, or it is not one) and the
 * versionstamp of what is stored there, for a checked commit.
 */
export async function readStoreRuntime(
  kv: Deno.Kv,
): Promise<{ value: StoreRuntime | null; versionstamp: string | null }> {
  const entry = await kv.get<unknown>(keys.storeRuntime());
  const { versionstamp } = entry;
  if (!(entry.value instanceof Uint8Array)) return { value: null, versionstamp };
  try {
    const parsed = JSON.parse(new TextDecoder().decode(entry.value));
    if (typeof parsed?.deno !== "string") return { value: null, versionstamp };
    const serializer = typeof parsed.serializer === "number" ? parsed.serializer : null;
    const by = parsed.by === "cli" ? "cli" : "server";
    return { value: { deno: parsed.deno, serializer, by }, versionstamp };
  } catch {
    return { value: null, versionstamp };
  }
}

function encodeRuntime(r: StoreRuntime, by: StoreRole): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ deno: r.deno, serializer: r.serializer, by }));
}

/** -1, 0 or 1: which of two Deno versions is older (numeric parts; a suffix is ignored). */
export function compareDeno(a: string, b: string): number {
  const pa = a.split(/[.+-]/).slice(0, 3).map(Number);
  const pb = b.split(/[.+-]/).slice(0, 3).map(Number);
  for (let i = 0; i < 3; i++) {
    if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) < (pb[i] || 0) ? -1 : 1;
  }
  return 0;
}

/** Which writes the newer values: -1 `mine` older, 0 the same format, 1 `mine` newer. */
function order(mine: StoreRuntime, stored: StoreRuntime): number {
  if (mine.serializer !== null && stored.serializer !== null) {
    return Math.sign(mine.serializer - stored.serializer);
  }
  return compareDeno(mine.deno, stored.deno); // cannot tell the format: any other Deno may differ
}

const describe = (r: StoreRuntime) =>
  `Deno ${r.deno}` + (r.serializer === null ? "" : ` (V8 serializer ${r.serializer})`);
const npx = (deno: string, task: string) =>
  `npx --yes deno@${deno} task ${task}${task === "start" ? "" : " …"}`;

/**
 * The decision, from the stamp (`stored`, null when none), this Deno, and
 * whether the store has any entry (`contents`: "unreadable" when listing it
 * hit a value this Deno cannot read).
 */
export function judgeRuntime(
  stored: StoreRuntime | null,
  mine: StoreRuntime,
  contents: "empty" | "data" | "unreadable",
  check: RuntimeCheck,
): Verdict {
  const { role, remote, task, takeover } = check;
  if (contents === "unreadable" && (stored === null || order(mine, stored) >= 0)) {
    return {
      ok: false,
      unreadable: true,
      message: `this KV store holds values written by a newer Deno than this ${describe(mine)}, ` +
        "which it cannot read (Deno reads no newer serializer format than its own)",
      fix: task === "start"
        ? "start the server with the newer Deno that wrote them"
        : "run this with the Deno the server runs (the newer one that wrote them)",
    };
  }
  if (stored === null) {
    if (role === "server") return { ok: true, stamp: true };
    if (!remote) return { ok: true, stamp: contents === "empty" && role === "cli" };
    return {
      ok: false,
      unreadable: false,
      message: "this KV store does not say which Deno serves it (its server, of this version, " +
        "has not started on it yet), so the values this Deno " + mine.deno +
        " would write might be unreadable there",
      fix: "start the deployment once (open its /readyz) so it records its Deno, then run this " +
        "again with that Deno",
    };
  }
  const o = order(mine, stored);
  if (o === 0) {
    return {
      ok: true,
      stamp: role === "server" && (stored.deno !== mine.deno || stored.by !== role),
    };
  }
  if (o < 0) {
    return {
      ok: false,
      unreadable: true,
      message: `this KV store is served by ${describe(stored)}, whose values this ` +
        `${describe(mine)} cannot read`,
      fix: `run with Deno ${stored.deno}: ${npx(stored.deno, task)}`,
    };
  }
  if (role === "server") {
    // a local store: Deno was upgraded, and this server serves the store from now on
    if (!remote) return { ok: true, stamp: true };
    if (takeover) {
      return {
        ok: true,
        stamp: true,
        note: `took the KV store over from ${describe(stored)}, as ${TAKEOVER_VARIABLE}=1 ` +
          `asks: a server on that Deno can no longer read it; unset ${TAKEOVER_VARIABLE}`,
      };
    }
    // through a KV Connect URL the older Deno's server (a deployment) may still serve the store
    return {
      ok: false,
      unreadable: false,
      message: `this KV store (a KV Connect URL) is served by ${describe(stored)}, which cannot ` +
        `read the values this ${describe(mine)} writes`,
      fix: `start the server with Deno ${stored.deno}: ${npx(stored.deno, task)}; or, if this ` +
        `server replaces the one on Deno ${stored.deno} as the store's server (which then can no ` +
        `longer read it), start it once with ${TAKEOVER_VARIABLE}=1`,
    };
  }
  // a local store no server has started on yet: the newer Deno's stamp makes an older server
  // refuse it, rather than fail on the values written now
  if (role === "cli" && !remote && stored.by === "cli") return { ok: true, stamp: true };
  return {
    ok: false,
    unreadable: false,
    message: `this KV store is served by ${describe(stored)}, which cannot read the values this ` +
      `${describe(mine)} writes`,
    fix: `run ${task === "doctor" ? "the doctor and the CLI" : "the CLI"} with the Deno the ` +
      `server runs: ${npx(stored.deno, task)}` +
      (remote
        ? ` (or, if a server on Deno ${mine.deno} replaces it, start that server once with ` +
          `${TAKEOVER_VARIABLE}=1)`
        : ` (or, if the server now runs Deno ${mine.deno}, start it once first)`),
  };
}

/** Whether the store has an entry, without failing on one this Deno cannot read. */
export async function storeContents(kv: Deno.Kv): Promise<"empty" | "data" | "unreadable"> {
  try {
    // the layout stamp was written by whichever Deno first started on the store
    await kv.get(keys.storeLayout());
    return await isEmpty(kv) ? "empty" : "data";
  } catch (error) {
    if (isUnreadableValue(error)) return "unreadable";
    throw error;
  }
}

/**
 * Checks this Deno against the store's stamp before anything else reads or
 * writes it (the layout stamp included); stamps it as `judgeRuntime` says.
 * Throws a StoreRuntimeError (one line: what, then the fix) when refused;
 * returns what to log when it took the store over from another Deno's server.
 */
export async function checkStoreRuntime(
  kv: Deno.Kv,
  check: RuntimeCheck,
): Promise<string | undefined> {
  const mine = currentRuntime();
  for (let attempt = 0;; attempt++) {
    const stored = await readStoreRuntime(kv);
    const verdict = judgeRuntime(stored.value, mine, await storeContents(kv), check);
    if (!verdict.ok) {
      const fix = verdict.fix[0].toUpperCase() + verdict.fix.slice(1);
      throw new StoreRuntimeError(`${verdict.message}; nothing was written. ${fix}`);
    }
    if (!verdict.stamp || check.role === "doctor") return undefined;
    const res = await kv.atomic()
      .check({ key: keys.storeRuntime(), versionstamp: stored.versionstamp })
      .set(keys.storeRuntime(), encodeRuntime(mine, check.role))
      .commit();
    // another process stamped it meanwhile: judged again against that stamp
    if (res.ok) return verdict.note;
    if (attempt >= 3) return undefined;
  }
}
