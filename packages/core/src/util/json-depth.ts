import { ToolMuxError, type ToolMuxErrorCode } from '../errors.js';

/**
 * How deep tool arguments and tool schemas may nest (objects and arrays). Validation, null
 * stripping, schema compilation and search walk these recursively; far below where a stack overflows.
 */
export const MAX_JSON_DEPTH = 128;

/** Above this limit {@link jsonDepthExceeds} walks with its own stack instead of recursing. */
const MAX_RECURSIVE_DEPTH = 1024;

/**
 * True when `value` nests objects and arrays more than `maxDepth` levels deep (a scalar is depth 0,
 * `{}` and `[]` depth 1). Any input depth is safe: the walk never goes below `maxDepth`. An object
 * with objects inside is visited again only when it is reached at a greater depth than before, so
 * shared parts cost once per depth at most and a cycle counts as too deep instead of looping.
 *
 * On the path of every tool call, so it touches each value once and allocates only for objects that
 * hold objects (a megabyte of arguments: a few milliseconds).
 */
export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  return jsonDepthAndSize(value, maxDepth).tooDeep;
}

/**
 * {@link jsonDepthExceeds}, and how much the walk saw: `entries` (object properties and array
 * items) and `chars` (of string values), counted until the walk ends. A caller uses them to tell a
 * megabyte of arguments from a small one without another walk.
 */
export function jsonDepthAndSize(
  value: unknown,
  maxDepth: number,
): { tooDeep: boolean; entries: number; chars: number } {
  const size = { entries: 0, chars: 0 };
  if (typeof value === 'string') size.chars = value.length;
  if (value === null || typeof value !== 'object') return { tooDeep: false, ...size };
  if (maxDepth > MAX_RECURSIVE_DEPTH) return { tooDeep: exceedsIteratively(value, maxDepth), ...size };
  const tooDeep = exceeds(value, 1, maxDepth, new Map(), size);
  return { tooDeep, ...size };
}

/** `value` at `depth` (≤ `maxDepth`): true when something inside goes past `maxDepth`. */
function exceeds(
  value: object,
  depth: number,
  maxDepth: number,
  seen: Map<object, number>,
  size: { entries: number; chars: number },
): boolean {
  if (depth > maxDepth) return true;
  let visited = false;
  if (Array.isArray(value)) {
    size.entries += value.length;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (typeof item === 'string') size.chars += item.length;
      if (item === null || typeof item !== 'object') continue;
      if (!visited) {
        const before = seen.get(value);
        if (before !== undefined && before >= depth) return false;
        seen.set(value, depth);
        visited = true;
      }
      if (exceeds(item, depth + 1, maxDepth, seen, size)) return true;
    }
    return false;
  }
  // for…in, not Object.values: no array of every value (a wide object is walked in place)
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key];
    size.entries++;
    if (typeof item === 'string') size.chars += item.length;
    if (item === null || typeof item !== 'object' || !Object.hasOwn(value, key)) continue;
    if (!visited) {
      const before = seen.get(value);
      if (before !== undefined && before >= depth) return false;
      seen.set(value, depth);
      visited = true;
    }
    if (exceeds(item, depth + 1, maxDepth, seen, size)) return true;
  }
  return false;
}

/** The same walk with an explicit stack, for limits too deep to recurse to. */
function exceedsIteratively(value: object, maxDepth: number): boolean {
  const seen = new Map<object, number>();
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    const before = seen.get(current);
    if (before !== undefined && before >= depth) continue;
    seen.set(current, depth);
    const items = Array.isArray(current) ? current : Object.values(current);
    for (const item of items) {
      if (item !== null && typeof item === 'object') stack.push([item, depth + 1]);
    }
  }
  return false;
}

/**
 * {@link jsonDepthExceeds} of a value `JSON.parse` made: a tree (parsed JSON shares no object and has
 * no cycle), so no object is remembered and nothing is counted; each value is touched once, and the
 * walk never goes below `maxDepth` (a cycle, were one passed, counts as too deep). For an answer of a
 * server, on the path of every remote tool call. `maxDepth` must be small enough to recurse to.
 */
export function parsedJsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (maxDepth === 0) return true;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (item !== null && typeof item === 'object' && parsedJsonDepthExceeds(item, maxDepth - 1))
        return true;
    }
    return false;
  }
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (item === null || typeof item !== 'object' || !Object.hasOwn(value, key)) continue;
    if (parsedJsonDepthExceeds(item, maxDepth - 1)) return true;
  }
  return false;
}

/** Throws `code` when `value` nests deeper than `maxDepth`, naming `subject` and the limit. */
export function checkJsonDepth(
  value: unknown,
  subject: string,
  code: ToolMuxErrorCode,
  maxDepth = MAX_JSON_DEPTH,
): void {
  if (jsonDepthExceeds(value, maxDepth)) throw jsonDepthError(subject, code, maxDepth);
}

/** The error of {@link checkJsonDepth}: `subject` nests deeper than `maxDepth`. */
export function jsonDepthError(subject: string, code: ToolMuxErrorCode, maxDepth: number): ToolMuxError {
  return new ToolMuxError({
    code,
    message: `${subject} nests objects and arrays more than ${maxDepth} levels deep; flatten it to at most ${maxDepth} levels.`,
    details: { maxDepth },
  });
}
