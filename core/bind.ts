/**
 * Services keep their steps as module functions over one "parts" value (the
 * deps and collaborators they work with) instead of closures in one long
 * factory; the factory binds them to its parts with this.
 */
export function bindParts<P, A extends unknown[], R>(
  parts: P,
  fn: (parts: P, ...args: A) => R,
): (...args: A) => R {
  return (...args: A) => fn(parts, ...args);
}
