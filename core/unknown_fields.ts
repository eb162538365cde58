/**
 * A field a strict body or query does not know, in words: `Amount is not a
 * known field; did you mean amount?`. The known fields at the path are
 * read from the zod 4 schema itself; the closest is found by edit distance.
 */

/** `Amount is not a known field; did you mean amount?` (or the known ones, when none is close). */
export function unknownFieldMessage(
  key: string,
  known: readonly string[] | null,
  what: "field" | "parameter" = "field",
): string {
  if (known === null) return `${key} is not a known ${what}`;
  if (known.length === 0) return `${key} is not a known ${what}: this route takes none`;
  const near = closestField(key, known);
  return near
    ? `${key} is not a known ${what}; did you mean ${near}?`
    : `${key} is not a known ${what} (known: ${known.join(", ")})`;
}

/**
 * A key of a map whose keys are named (`keyName`: the rules of a backtest): `velocty is not a
 * known rule; did you mean velocity? (rules: …)`, the names always listed, for a name is
 * something one looks up, unlike a field one misspelt.
 */
export function unknownKeyMessage(key: string, known: readonly string[], keyName: string): string {
  const near = closestField(key, known);
  const list = `(${keyName}s: ${known.join(", ")})`;
  return near
    ? `${key} is not a known ${keyName}; did you mean ${near}? ${list}`
    : `${key} is not a known ${keyName} ${list}`;
}

/** The parts of a zod 4 schema read here: its kind and what it wraps. */
interface SchemaLike {
  /** zod 4: the schema's metadata (`.meta({...})`), when called without arguments */
  meta?: () => unknown;
  _zod?: {
    def?: {
      type?: string;
      shape?: Record<string, unknown>;
      innerType?: unknown;
      in?: unknown;
      element?: unknown;
      keyType?: unknown;
      valueType?: unknown;
      entries?: Record<string, unknown>;
    };
  };
}

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch"]);

function unwrap(schema: unknown): SchemaLike | null {
  let s = schema as SchemaLike | undefined;
  for (let depth = 0; s?._zod?.def && depth < 16; depth++) {
    const def = s._zod.def;
    if (WRAPPERS.has(def.type ?? "")) s = def.innerType as SchemaLike;
    else if (def.type === "pipe") s = def.in as SchemaLike;
    else return s;
  }
  return null;
}

/** Whether `schema` takes a list (a query parameter that may be given more than once). */
export function takesList(schema: unknown): boolean {
  return unwrap(schema)?._zod?.def?.type === "array";
}

/** The schema at `path` in `schema` (through objects, lists and maps), or null. */
function schemaAt(schema: unknown, path: PropertyKey[]): SchemaLike | null {
  let s = unwrap(schema);
  for (const segment of path) {
    const def = s?._zod?.def;
    if (def?.type === "object") s = unwrap(def.shape?.[String(segment)]);
    else if (def?.type === "array") s = unwrap(def.element);
    else if (def?.type === "record") s = unwrap(def.valueType);
    else return null;
  }
  return s;
}

/**
 * The field names of the object at `path` in `schema` (or the keys a map
 * keyed by an enum takes, such as rule names), or null when it is neither.
 */
export function knownFieldsAt(schema: unknown, path: PropertyKey[]): string[] | null {
  const def = schemaAt(schema, path)?._zod?.def;
  if (def?.type === "object" && def.shape) return Object.keys(def.shape);
  const keys = def?.type === "record" ? unwrap(def.keyType)?._zod?.def : undefined;
  return keys?.type === "enum" && keys.entries ? Object.values(keys.entries).map(String) : null;
}

/**
 * What the keys of the map at `path` are called, when its key enum says so
 * (`.meta({ keyName: "rule" })`); null for an object's fields and unnamed keys.
 */
export function keyNameAt(schema: unknown, path: PropertyKey[]): string | null {
  const def = schemaAt(schema, path)?._zod?.def;
  if (def?.type !== "record") return null;
  const keyType = def.keyType as SchemaLike | undefined;
  const meta = typeof keyType?.meta === "function" ? keyType.meta() : undefined;
  const name = (meta as { keyName?: unknown } | undefined)?.keyName;
  return typeof name === "string" ? name : null;
}

/** Edits (insert, delete, substitute, swap two neighbours) between two words. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The known field `key` was most likely meant as: the same but for case, a
 * typo or two away, or one that starts the other (`amount_cents` -> `amount`).
 */
export function closestField(key: string, known: readonly string[]): string | null {
  const k = key.toLowerCase();
  let best: { name: string; score: number } | null = null;
  for (const name of known) {
    const n = name.toLowerCase();
    let score = distance(k, n);
    if (score > Math.max(1, Math.floor(Math.min(k.length, n.length) / 4))) {
      const starts = (k.length >= 4 && n.startsWith(k)) || (n.length >= 4 && k.startsWith(n));
      if (!starts) continue;
      score = 10 + Math.abs(k.length - n.length);
    }
    if (!best || score < best.score) best = { name, score };
  }
  return best?.name ?? null;
}
