import { ToolMuxError, type ToolMuxErrorCode } from '../errors.js';

/**
 * How deep tool arguments and tool schemas may nest (objects and arrays). Validation, null
 * stripping, schema compilation and search walk these recursively; far below where a stack overflows.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * True when `value` nests objects and arrays more than `maxDepth` levels deep (a scalar is depth 0,
 * `{}` and `[]` depth 1). Iterative, so any input depth is safe; each object is visited once per
 * depth it is reached at, at most `maxDepth` times, so a cycle counts as too deep instead of looping.
 */
export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
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

/** Throws `code` when `value` nests deeper than `maxDepth`, naming `subject` and the limit. */
export function checkJsonDepth(
  value: unknown,
  subject: string,
  code: ToolMuxErrorCode,
  maxDepth = MAX_JSON_DEPTH,
): void {
  if (jsonDepthExceeds(value, maxDepth)) {
    throw new ToolMuxError({
      code,
      message: `${subject} nests objects and arrays more than ${maxDepth} levels deep; flatten it to at most ${maxDepth} levels.`,
      details: { maxDepth },
    });
  }
}
