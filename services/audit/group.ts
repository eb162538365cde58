/**
 * Audited changes grouped into one KV commit. Every audited change appends to
 * the one chain head, so one at a time they would each pay a whole commit;
 * here the changes waiting in the append queue are built at once, each into a
 * recording of its checks and mutations (kv/group_commit.ts `recordingOp`),
 * and the builds that do not overlap go out as ONE atomic commit with their
 * entries chained after the head in queue order.
 *
 * What keeps a grouped change from acting on a stale read:
 *   - every build checks the keys whose values it relied on (the OCC rule the
 *     ingest group committer relies on too), and all those checks go into the
 *     group's commit;
 *   - a build whose checks or writes touch a key an earlier build of the group
 *     writes, or that writes a key an earlier build checks, is not grouped with
 *     it: it is built again for a later commit, after the earlier one landed;
 *   - a refused commit is examined: the members whose checked entries moved are
 *     built again (only they: a failed check fails only its change), the others
 *     go out again with the head read anew.
 * The head is kept from the last commit with its versionstamp; the commit
 * checks it, so a stale one is caught and read again, and the chain can neither
 * fork (two entries after one head) nor gap (entries chain from the head read).
 * Groups are sized with `BatchMeter` against `KV_BATCH`.
 */
import type { CallContext } from "../../domain/actor.ts";
import { type AuditInput, chainEntries, estimateBytes, type PendingEntry } from "./entry.ts";
import { pendingEntry } from "./entry.ts";
import { addEntries, readHead } from "../../kv/audit.ts";
import { isKvLocked } from "../../kv/atomic.ts";
import { type AuditHead, GENESIS_HEAD } from "../../domain/audit_entry.ts";
import { type Recording, recordingOp } from "../../kv/group_commit.ts";
import { AppError } from "../../core/errors.ts";
import { BatchMeter } from "../../core/kv_limits.ts";

/** An entry's own mutations: the entry and three indexes (see append.ts). */
const ENTRY_MUTATIONS = 4;
export const GROUP_MAX_CHANGES = 16;
/** times one change may be built again after a stale read before it becomes `conflict` */
export const GROUP_ATTEMPTS = 30;
const BUSY_ATTEMPTS = 20;

/** One queued audited change (append.ts `enqueueCommit`). */
export interface GroupTask {
  ctx: CallContext;
  chain: ChainSource;
  build: (op: Deno.AtomicOperation) => Promise<{ value: unknown; audit: AuditInput[] }>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** builds so far that were refused for a stale read */
  stale: number;
  /**
   * The build checks every value it relies on (AuditService.commit's `shared`),
   * so it may share a commit and, when only the head moved, go again unbuilt.
   * Otherwise it commits alone and any refusal builds it again.
   */
  shared: boolean;
}

/** Time and ids for the entries (the appending service's clock). */
export interface ChainSource {
  now: () => number;
  newId: () => string;
}

/** What the group committer keeps per KV handle. */
export interface GroupState extends ChainSource {
  kv: Deno.Kv;
  /** the head as of our last commit (null: read it) */
  head: Deno.KvEntryMaybe<AuditHead> | null;
  /** entries one change may append */
  maxEntries: number;
}

interface Member {
  task: GroupTask;
  rec: Recording;
  value: unknown;
  pending: PendingEntry[];
  /** keys (JSON) it checks, with the versionstamps it read */
  checks: Map<string, Deno.AtomicCheck>;
  /** keys it sets or deletes */
  writes: Set<string>;
  /** keys it only adds to (`sum`): such adds commute with each other */
  sums: Set<string>;
}

const keyOf = (k: Deno.KvKey) => JSON.stringify(k, (_, v) => typeof v === "bigint" ? `${v}n` : v);

function valueBytes(v: unknown): number {
  try {
    return (JSON.stringify(v)?.length ?? 16) * 3;
  } catch {
    return 16 * 1024; // binary or bigint values: counted generously
  }
}

/** Builds one change into a recording; null when the build refused (the task is answered). */
async function buildMember(state: GroupState, task: GroupTask): Promise<Member | null> {
  const rec = recordingOp();
  try {
    const { value, audit } = await task.build(rec.op);
    if (audit.length > state.maxEntries) {
      throw new AppError(
        "internal",
        `an audited change may append at most ${state.maxEntries} entries (got ${audit.length}); split it`,
      );
    }
    const pending = audit.map((a) => pendingEntry(task.ctx, a));
    const m: Member = {
      task,
      rec,
      value,
      pending,
      checks: new Map(),
      writes: new Set(),
      sums: new Set(),
    };
    for (const o of rec.ops) {
      if (o.kind === "check") m.checks.set(keyOf(o.check.key), o.check);
      else if (o.kind === "sum") m.sums.add(keyOf(o.key));
      else m.writes.add(keyOf(o.key));
    }
    return m;
  } catch (e) {
    task.reject(e);
    return null;
  }
}

/** Whether `m` touches what the members already taken write, or writes what they read. */
function overlaps(
  m: Member,
  taken: { writes: Set<string>; reads: Set<string>; sums: Set<string> },
) {
  for (const k of m.checks.keys()) if (taken.writes.has(k) || taken.sums.has(k)) return true;
  for (const k of m.writes) {
    if (taken.writes.has(k) || taken.reads.has(k) || taken.sums.has(k)) return true;
  }
  for (const k of m.sums) if (taken.writes.has(k) || taken.reads.has(k)) return true;
  return false;
}

/** What `m` adds to a group's commit (sized only when there is a group to size). */
function costOf(m: Member) {
  let bytes = m.pending.reduce((n, p) => n + estimateBytes(p), 0);
  for (const o of m.rec.ops) if (o.kind === "set") bytes += valueBytes(o.value) + 256;
  return {
    mutations: m.rec.ops.length - m.checks.size + m.pending.length * ENTRY_MUTATIONS,
    checks: m.checks.size + 1,
    bytes,
  };
}

/** The members that may share one commit, in queue order; the rest are built again later. */
function select(members: Member[]): { group: Member[]; later: Member[] } {
  if (members.length <= 1) return { group: members, later: [] }; // alone it meets KV's own answer
  const taken = { writes: new Set<string>(), reads: new Set<string>(), sums: new Set<string>() };
  const meter = new BatchMeter(GROUP_MAX_CHANGES);
  const group: Member[] = [];
  const later: Member[] = [];
  for (const m of members) {
    const cost = costOf(m);
    if (overlaps(m, taken) || !meter.fits(cost)) {
      later.push(m);
      continue;
    }
    meter.add(cost);
    group.push(m);
    for (const k of m.writes) taken.writes.add(k);
    for (const k of m.checks.keys()) taken.reads.add(k);
    for (const k of m.sums) taken.sums.add(k);
  }
  return { group, later };
}

/** The members whose checked reads no longer hold (read again in consistent chunks). */
async function staleMembers(kv: Deno.Kv, members: Member[]): Promise<Set<Member>> {
  const stale = new Set<Member>();
  for (const m of members) {
    const checks = [...m.checks.values()];
    for (let i = 0; i < checks.length && !stale.has(m); i += 10) {
      const chunk = checks.slice(i, i + 10);
      const now = await kv.getMany(chunk.map((c) => c.key));
      if (now.some((e, j) => e.versionstamp !== chunk[j].versionstamp)) stale.add(m);
    }
  }
  return stale;
}

/** One try at committing `group` after the head: the versionstamp, or null when refused. */
async function tryCommit(state: GroupState, group: Member[]): Promise<string | null> {
  const head = state.head ?? await readHead(state.kv);
  const entries = await chainEntries(
    head.value ?? GENESIS_HEAD,
    group.flatMap((m) => m.pending),
    state.now(),
    state.newId,
  );
  for (let busy = 1;; busy++) {
    const op = state.kv.atomic();
    for (const m of group) m.rec.replay(op);
    addEntries(op, head, entries);
    try {
      const res = await op.commit();
      if (!res.ok) {
        state.head = null;
        return null;
      }
      const last = entries[entries.length - 1];
      if (last) {
        const value: AuditHead = { seq: last.seq, hash: last.hash, at: last.at };
        state.head = { key: head.key, value, versionstamp: res.versionstamp };
      } else state.head = head;
      return res.versionstamp;
    } catch (e) {
      // A local SQLite KV shared with another process can be briefly locked: nothing was written.
      if (!isKvLocked(e) || busy >= BUSY_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 10 * busy));
    }
  }
}

/**
 * Commits `group`: answered when it lands; a member whose reads went stale is
 * handed back to be built again, the others retried without it. A commit KV
 * throws on (too large, a value it cannot take) is tried member by member.
 */
async function commitGroup(state: GroupState, group: Member[], again: GroupTask[]): Promise<void> {
  let left = group;
  for (let attempt = 0; left.length > 0; attempt++) {
    let landed: string | null;
    try {
      landed = await tryCommit(state, left);
    } catch (e) {
      state.head = null;
      if (left.length === 1) return left[0].task.reject(e);
      for (const m of left) await commitGroup(state, [m], again);
      return;
    }
    if (landed !== null) {
      for (const m of left) m.task.resolve(m.value);
      return;
    }
    const stale = await staleMembers(state.kv, left);
    // Only the head moved (another isolate appended): the same builds go again, a little later
    // (only builds that check all they read; any other is built again, as a lone change was).
    if (stale.size === 0 && attempt < GROUP_ATTEMPTS && left.every((m) => m.task.shared)) {
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      continue;
    }
    for (const m of stale.size ? stale : left) again.push(m.task);
    left = left.filter((m) => !stale.has(m) && stale.size > 0);
    if (left.length) await new Promise((r) => setTimeout(r, Math.random() * 4));
  }
}

/**
 * Builds `tasks` at once and commits what can share a commit. Returns the tasks
 * to build again (stale reads, overlaps), first in the queue; a task refused
 * for stale reads `GROUP_ATTEMPTS` times is answered `conflict`.
 */
export async function runGroup(state: GroupState, tasks: GroupTask[]): Promise<GroupTask[]> {
  state.now = tasks[0].chain.now;
  state.newId = tasks[0].chain.newId;
  const built = await Promise.all(tasks.map((t) => buildMember(state, t)));
  const { group, later } = select(built.filter((m): m is Member => m !== null));
  const stale: GroupTask[] = [];
  await commitGroup(state, group, stale);
  for (const t of stale) t.stale++;
  const again: GroupTask[] = [];
  for (const t of [...stale, ...later.map((m) => m.task)]) {
    if (t.stale < GROUP_ATTEMPTS) again.push(t);
    else {
      t.reject(
        new AppError(
          "conflict",
          "the audit log was changed by another request at the same time; reload and try again",
        ),
      );
    }
  }
  return again;
}
