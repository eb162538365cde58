import assert from "node:assert/strict";
import fc from "fast-check";
import { RecordLocality } from "../kv/pagination.ts";

const recordKey = (id: string): Deno.KvKey => ["records", id];
const id = (n: number) => `rec_${String(n).padStart(6, "0")}`;

/** `kv` that counts its `list` and `getMany` calls. */
function counting(kv: Deno.Kv) {
  const calls = { list: 0, getMany: 0 };
  const counted = new Proxy(kv, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop === "list" || prop === "getMany") calls[prop]++;
        return v.apply(target, args);
      };
    },
  });
  return { kv: counted, calls };
}

Deno.test("RecordLocality.read() returns exactly what reading each key would, in order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 120 }),
      fc.array(fc.array(fc.integer({ min: 0, max: 320 }), { maxLength: 30 }), {
        minLength: 1,
        maxLength: 6,
      }),
      async (stored, pages) => {
        const kv = await Deno.openKv(":memory:");
        try {
          for (const n of stored) await kv.set(recordKey(id(n)), { n });
          // a neighbour under the same prefix with a longer key must never be taken for a record
          await kv.set(["records", id(stored[0] ?? 0), "note"], "not a record");
          const locality = new RecordLocality();
          for (const page of pages) {
            const ids = page.map(id);
            const got = await locality.read<{ n: number }>(kv, ids, recordKey, "any");
            assert.equal(got.length, ids.length);
            for (const [i, entry] of got.entries()) {
              const expected = await kv.get(recordKey(ids[i]));
              assert.deepEqual(entry.key, recordKey(ids[i]));
              assert.deepEqual(entry.value, expected.value);
              assert.equal(entry.versionstamp, expected.versionstamp);
            }
          }
        } finally {
          kv.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("RecordLocality reads records lying together with one range, and scattered ones by key", async () => {
  const { kv, calls } = counting(await Deno.openKv(":memory:"));
  try {
    for (let n = 0; n < 400; n++) await kv.set(recordKey(id(n)), { n });
    const locality = new RecordLocality();

    // a page of neighbours: one range read, no getMany
    const together = Array.from({ length: 25 }, (_, i) => id(300 - i));
    await locality.read(kv, together, recordKey, "all");
    assert.deepEqual(calls, { list: 1, getMany: 0 });

    // pages of every 15th record: the range finds few, so that shape soon reads by key only
    calls.list = calls.getMany = 0;
    const scattered = (page: number) =>
      Array.from({ length: 10 }, (_, i) => id((page * 10 + i) * 15 % 400));
    for (let page = 0; page < 4; page++) await locality.read(kv, scattered(page), recordKey, "cus");
    const listsWhileLearning = calls.list;
    assert.equal(listsWhileLearning, 4, "it keeps trying while the average of found shares falls");
    calls.list = 0;
    for (let page = 4; page < 20; page++) {
      await locality.read(kv, scattered(page), recordKey, "cus");
    }
    assert.equal(calls.list, 1, "one retry of the range in 16 pages");

    // the other shape kept its range reads
    calls.list = calls.getMany = 0;
    await locality.read(kv, together, recordKey, "all");
    assert.deepEqual(calls, { list: 1, getMany: 0 });
  } finally {
    kv.close();
  }
});
