import assert from "node:assert/strict";
import { withKv } from "./helpers/kv.ts";
import { checkStoreLayout, STORE_LAYOUT, StoreLayoutError } from "../kv/layout.ts";
import { keys } from "../kv/keys.ts";

Deno.test("checkStoreLayout() stamps an empty store and then passes it", async () => {
  await withKv(async (kv) => {
    await checkStoreLayout(kv);
    assert.equal((await kv.get(keys.storeLayout())).value, STORE_LAYOUT);
    await checkStoreLayout(kv);
  });
});

Deno.test("checkStoreLayout() refuses a store with data and no stamp (layout 1), or another stamp", async () => {
  await withKv(async (kv) => {
    await kv.set(["customer_balances", "cus_Old", "usd"], { amount: 1 });
    await assert.rejects(() => checkStoreLayout(kv), (e: Error) => {
      assert.ok(e instanceof StoreLayoutError);
      assert.match(e.message, /an earlier version .*layout 1/);
      return true;
    });
    assert.equal((await kv.get(keys.storeLayout())).value, null, "a refused store is not stamped");
  });
  await withKv(async (kv) => {
    await kv.set(keys.storeLayout(), STORE_LAYOUT + 1);
    await assert.rejects(() => checkStoreLayout(kv), /a newer version/);
  });
});

Deno.test("an earlier layout's refusal names the store in use, not the default's ./data", async () => {
  const refusal = async (kvPath: string | undefined) => {
    let message = "";
    await withKv(async (kv) => {
      await kv.set(["customer_balances", "cus_Old", "usd"], { amount: 1 });
      await assert.rejects(() => checkStoreLayout(kv, kvPath), (e: Error) => {
        message = e.message;
        return e instanceof StoreLayoutError;
      });
    });
    return message;
  };
  const elsewhere = await refusal("./walkdeploy/kv.sqlite3");
  assert.match(
    elsewhere,
    /Start on a new store \(another KV_PATH, or move \.\/walkdeploy\/kv\.sqlite3 away\)/,
  );
  assert.doesNotMatch(elsewhere, /\.\/data/);
  assert.match(await refusal("./data/kv.sqlite3"), /or move \.\/data\/kv\.sqlite3 away\)/);
  // a store nothing local holds (a KV Connect URL, Deno Deploy's own): another one only
  for (const remote of ["https://api.deno.com/databases/0000/connect", undefined]) {
    const message = await refusal(remote);
    assert.match(message, /Start on a new store \(another KV_PATH\) and run/);
    assert.doesNotMatch(message, /move/);
  }
});

Deno.test("isolates starting on one empty store at once all pass: one of them stamps it", async () => {
  await withKv(async (kv) => {
    await Promise.all([checkStoreLayout(kv), checkStoreLayout(kv), checkStoreLayout(kv)]);
    assert.equal((await kv.get(keys.storeLayout())).value, STORE_LAYOUT);
  });
});

Deno.test("another process stamping (and writing) between the stamp's read and the emptiness check is no earlier layout", async () => {
  await withKv(async (kv) => {
    // the other process lands its stamp and a first record right as this one lists the store
    let raced = false;
    const racing = new Proxy(kv, {
      get(target, prop) {
        if (prop === "list") {
          return (...args: Parameters<Deno.Kv["list"]>) => {
            const listing = async function* () {
              if (!raced) {
                raced = true;
                await target.set(keys.storeLayout(), STORE_LAYOUT);
                await target.set(["admins", "adm_first"], { id: "adm_first" });
              }
              yield* target.list(...args);
            };
            return listing();
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await checkStoreLayout(racing);
    assert.ok(raced, "the listing ran after the stamp was read");
    assert.equal((await kv.get(keys.storeLayout())).value, STORE_LAYOUT);
  });
});

Deno.test("the server refuses to start on a store of an earlier layout, saying what to do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "layout_" });
  try {
    const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
    await kv.set(["ledger", "cus_Old", "led_1"], { amount: 100 });
    kv.close();
    const env: Record<string, string> = { KV_PATH: `${dir}/kv.sqlite3`, NO_COLOR: "1" };
    for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
      const v = Deno.env.get(name);
      if (v !== undefined) env[name] = v;
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--quiet", "main.ts"],
      cwd: new URL("..", import.meta.url).pathname,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /key layout 1; this version reads layout 2/);
    assert.ok(stderr.includes(`or move ${dir}/kv.sqlite3 away)`), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
