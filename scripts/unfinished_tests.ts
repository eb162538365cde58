/**
 * Which tests a cut-off `deno test` run never reported, for CI's log when a
 * run hits its time limit (`.ci/run`): a test that waits forever is then named,
 * not just a missing summary.
 *
 *     deno run --allow-read scripts/unfinished_tests.ts <run's log> <test dir>...
 *
 * `deno test --parallel` prints a test's line only once it ends, so the ones
 * still running are those of the test files with no line for them. Names are
 * read from the files' `Deno.test("…")`, `Deno.test(`…${x}…`)` and
 * `Deno.test({ name: "…" })`; a name built from a template matches any of its
 * instances, so one instance of a loop's test left running is not named.
 */

const NAME = /Deno\.test\(\s*(?:\{\s*name:\s*)?(["'`])((?:\\.|(?!\1)[^\\])*)\1/g;

/** The test names declared in `source`, as patterns a result line's name must match. */
export function declaredTests(source: string): { name: string; pattern: RegExp }[] {
  const out: { name: string; pattern: RegExp }[] = [];
  for (const m of source.matchAll(NAME)) {
    const raw = m[2];
    const parts = m[1] === "`" ? raw.split(/\$\{[^}]*\}/) : [raw];
    const unescape = (s: string) => s.replace(/\\(.)/g, "$1");
    const body = parts.map((p) => unescape(p).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*?");
    out.push({ name: unescape(raw), pattern: new RegExp(`^${body}$`) });
  }
  return out;
}

/** The names reported in `log` for each test file, from lines `./file => name ... ok`. */
export function reportedTests(log: string): Map<string, string[]> {
  const byFile = new Map<string, string[]>();
  // deno-lint-ignore no-control-regex -- the terminal's colour codes, which start with ESC
  const plain = log.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
  for (const m of plain.matchAll(/^\.\/(\S+) => (.*) \.\.\. (?:ok|FAILED|ignored)\b/gm)) {
    const list = byFile.get(m[1]) ?? [];
    list.push(m[2]);
    byFile.set(m[1], list);
  }
  return byFile;
}

async function testFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir.replace(/\/$/, "")}/${e.name}`;
    if (e.isDirectory) files.push(...await testFiles(path));
    else if (/_test\.(ts|js|mjs|tsx)$/.test(e.name)) files.push(path);
  }
  return files.sort();
}

if (import.meta.main) {
  const [logPath, ...dirs] = Deno.args;
  if (!logPath || dirs.length === 0) {
    console.error("usage: unfinished_tests.ts <log> <test dir>...");
    Deno.exit(2);
  }
  const reported = reportedTests(await Deno.readTextFile(logPath));
  const SHOWN = 40; // a cut-off gate that never reached the tests would list them all
  let missing = 0;
  for (const dir of dirs) {
    for (const file of await testFiles(dir)) {
      const seen = reported.get(file.replace(/^\.\//, "")) ?? [];
      for (const t of declaredTests(await Deno.readTextFile(file))) {
        if (seen.some((name) => t.pattern.test(name))) continue;
        if (missing++ < SHOWN) console.log(`not finished: ${file} => ${t.name}`);
      }
    }
  }
  if (missing > SHOWN) console.log(`… and ${missing - SHOWN} more`);
  console.log(`${missing} declared test(s) never reported`);
}
