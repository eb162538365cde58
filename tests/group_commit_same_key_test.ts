/**
 * The ingest group committer (kv/group_commit.ts) never sends two builds that
 * check one key in one group: the intake's plain ingestion stores the event
 * with `versionstamp: null` on its id, so two deliveries of one event in one
 * group would both be stored. A build that checks a key in the forming group
 * waits for a later group and is built again against what the first wrote.
 */
import assert from "node:assert/strict";
import { createGroupCommitter, recordingOp } from "../kv/group_commit.ts";

/** Stores `key` once: a build that finds it stored answers "duplicate" and writes nothing. */
function storeOnce(kv: Deno.Kv, key: Deno.KvKey) {
  return async () => {
    const rec = recordingOp();
    if ((await kv.get(key)).versionstamp !== null) return { rec, value: "duplicate" };
    rec.op.check({ key, versionstamp: null }).set(key, "stored").set(
      ["index", crypto.randomUUID()],
      key,
    );
    return { rec, value: "stored" };
  };
}

Deno.test("group commit: copies of one change checking one new key are stored once, in a burst behind a lead", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const groups = createGroupCommitter<string>(kv);
    const keys: Deno.KvKey[] = [["lead"], ["a"], ["b"], ["a"], ["c"], ["a"], ["b"]];
    const answers = await Promise.all(keys.map((k) => groups.submit(storeOnce(kv, k))));
    assert.deepEqual(answers, [
      "stored",
      "stored",
      "stored",
      "duplicate",
      "stored",
      "duplicate",
      "duplicate",
    ]);
    let rows = 0;
    for await (const _ of kv.list({ prefix: ["index"] })) rows++;
    assert.equal(rows, 4, "one index row per key");
  } finally {
    kv.close();
  }
});
