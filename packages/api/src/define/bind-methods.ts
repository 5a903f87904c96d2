/**
 * The methods and values of `source`, including those on its prototype chain, with methods bound
 * to `source`: the helpers accept object literals and class instances alike.
 */
export function bindMethods<T extends object>(source: T): T {
  const result: Record<string, unknown> = {};
  for (let layer: object | null = source; layer !== null && layer !== Object.prototype; layer = Object.getPrototypeOf(layer) as object | null) {
    for (const key of Object.getOwnPropertyNames(layer)) {
      if (key === 'constructor' || key in result) continue;
      const value: unknown = (source as Record<string, unknown>)[key];
      result[key] = typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(source) : value;
    }
  }
  return result as T;
}
