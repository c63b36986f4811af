/**
 * EventBridge event pattern matching, for the subset Backstop's rules use: exact values (any of
 * a list), nested objects, arrays in the event (any element may match, arrays of objects
 * included), `$or`, and the `prefix`, `exists` and `anything-but` filters. Enough to prove that a
 * synthesized rule matches the events it is for and not the others; anything else throws.
 */
type Json = unknown;

function matchesValue(filter: Json, value: Json): boolean {
  if (filter === null || typeof filter !== 'object') return value === filter;
  const f = filter as Record<string, Json>;
  if ('prefix' in f) return typeof value === 'string' && value.startsWith(String(f.prefix));
  if ('anything-but' in f) {
    const not = Array.isArray(f['anything-but']) ? f['anything-but'] : [f['anything-but']];
    return value !== undefined && !not.includes(value);
  }
  throw new Error(`event-pattern: filter ${JSON.stringify(filter)} is not modelled`);
}

function matchesList(filters: Json[], value: Json): boolean {
  const exists = filters.find((f) => typeof f === 'object' && f !== null && 'exists' in (f as object)) as
    { exists: boolean } | undefined;
  if (exists) return exists.exists === (value !== undefined);
  if (value === undefined) return false;
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => filters.some((f) => matchesValue(f, v)));
}

/** Whether `event` matches `pattern` as EventBridge decides it. */
export function matchesPattern(pattern: Record<string, Json>, event: Json): boolean {
  for (const [key, filter] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(filter as Record<string, Json>[]).some((alt) => matchesPattern(alt, event))) return false;
      continue;
    }
    const value =
      event !== null && typeof event === 'object' ? (event as Record<string, Json>)[key] : undefined;
    if (Array.isArray(filter)) {
      if (!matchesList(filter, value)) return false;
    } else if (filter !== null && typeof filter === 'object') {
      const nested = Array.isArray(value) ? value : [value];
      if (!nested.some((v) => v !== undefined && matchesPattern(filter as Record<string, Json>, v)))
        return false;
    } else {
      throw new Error(`event-pattern: ${key} must hold a list or an object`);
    }
  }
  return true;
}
