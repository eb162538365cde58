import assert from "node:assert/strict";

const DIR = new URL("../emulator/", import.meta.url);

/** Relative imports of each emulator module (type-only imports count: they tie modules too). */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for await (const entry of Deno.readDir(DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, DIR));
    const specs = [...text.matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) =>
      m[1]
    );
    graph.set(entry.name, specs);
  }
  return graph;
}

function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "open");
    stack.push(node);
    for (const spec of graph.get(node) ?? []) {
      if (!spec.startsWith("./")) continue;
      const found = visit(spec.slice(2));
      if (found) return found;
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return null;
}

Deno.test("emulator modules import each other without a cycle", async () => {
  const cycle = findCycle(await importGraph());
  assert.equal(cycle, null, `import cycle: ${cycle?.join(" -> ")}`);
});

Deno.test("the emulator stands alone: it imports nothing else of the project", async () => {
  for (const [file, specs] of await importGraph()) {
    for (const spec of specs) {
      assert.ok(
        spec.startsWith("./") || spec.startsWith("node:") || !spec.startsWith("."),
        `${file} imports ${spec}`,
      );
    }
  }
});
