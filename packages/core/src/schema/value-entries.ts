import type { ListedKeys } from '../util/json-slices.js';

/** What {@link entriesUpTo} knows of wide objects: the walk's list of their keys, and its own finds. */
export interface WideObjects {
  listedKeys: ListedKeys | undefined;
  /** Objects an earlier count found to have `cap` keys or more. */
  wide: WeakSet<object>;
}

/**
 * How many entries `value` has (values, plus one per 256 characters of a string), counted up to
 * `cap` by a walk of at most that many. A wide object is known without listing its keys (`for…in`
 * lists them all at once): by the walk's list, or by an earlier count. Whether a value is large
 * enough to be validated in parts.
 */
export function entriesUpTo(value: unknown, cap: number, known: WideObjects): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count < cap) {
    const next = stack.pop();
    count++;
    if (typeof next === 'string') count += next.length >> 8;
    else if (Array.isArray(next)) {
      if (next.length >= cap) return cap;
      for (let index = 0; index < next.length && count + stack.length < cap; index++) stack.push(next[index]);
    } else if (typeof next === 'object' && next !== null) {
      if (known.wide.has(next) || known.listedKeys?.(next) !== undefined) return cap;
      let keys = 0;
      for (const key in next) {
        if (++keys >= cap) {
          known.wide.add(next);
          return cap;
        }
        if (count + stack.length < cap) stack.push((next as Record<string, unknown>)[key]);
      }
    }
  }
  return Math.min(count + stack.length, cap);
}
