import { type ProtoKeyParse, safeParseKeepingProtoKeys, type WorkSlice } from '@toolmux/core/internal';
import type { z } from 'zod';

type Issue = Extract<ProtoKeyParse, { success: false }>['issues'][number];

/**
 * An array of a request body that may hold thousands of items (a remote client's custom tools). The
 * body is checked an item at a time with the event loop free between items, instead of by one zod
 * parse of the whole, which held it for tens of milliseconds. Two conditions keep the result zod's:
 * the items' schema reports every problem of an item through zod (a record in it takes any key and
 * value, so that a `__proto__` key in it is never a problem of its own: see
 * `safeParseKeepingProtoKeys`), and the array's only check is its `.max()`.
 */
export interface LargeArray {
  /** Where it is in the body: the keys of the objects on the way. */
  path: readonly string[];
  /** The schema of its items. */
  item: z.ZodType;
  /** The most items the body's schema allows there (its `.max()`); `Infinity` without one. */
  max: number;
  /** Large arrays inside each item, the same way. */
  inner?: readonly LargeArray[];
}

/** What {@link parseWithLargeArrays} found: zod's parse of the body, and the issues it left out. */
export type LargeArraysParse =
  | { success: true; data: unknown }
  | { success: false; issues: Issue[]; more: number };

/** How many failing items of an array the whole parse sees: enough for the five issues a 400 names. */
const KEPT_FAILURES = 5;

type Remap = (path: readonly PropertyKey[]) => PropertyKey[];

/** A body with its large arrays cut down to what the whole parse must see (see {@link reduce}). */
interface Reduction {
  value: unknown;
  /** The issues of the failing items left out, counted by their own parses. */
  more: number;
  /** A path of `value` as the path of the same place in the body. */
  remap: Remap;
  /** Puts each array's items, as checked apart, into zod's data of `value`. */
  fill(data: unknown): void;
}

/**
 * `safeParseKeepingProtoKeys(schema, value)`, with the items of each large array checked apart, one
 * per step: then the whole is parsed with each array holding only its first few failing items, so
 * that zod names the first issues in the order, at the paths and with the messages it has for the
 * whole body; the issues of the failing items left out are counted in `more`. When no item fails, the
 * data is zod's, with each array's items as checked apart. An array over its limit is left to the
 * whole parse as it is (zod refuses it by its length, before its items).
 */
export async function parseWithLargeArrays(
  schema: z.ZodType,
  value: unknown,
  arrays: readonly LargeArray[],
  slice: WorkSlice,
): Promise<LargeArraysParse> {
  const reduction = await reduce(value, arrays, slice);
  const parse = safeParseKeepingProtoKeys(schema, reduction.value);
  if (!parse.success) {
    const issues = parse.issues.map((issue) => ({ ...issue, path: reduction.remap(issue.path) }));
    return { success: false, issues, more: reduction.more };
  }
  reduction.fill(parse.data);
  return { success: true, data: parse.data };
}

/**
 * `value` with each of its large arrays holding only its first {@link KEPT_FAILURES} failing items
 * (cut down the same way, for arrays inside them): the first five issues of the whole are among
 * theirs, or come before them. Every item is checked on its own, pausing whenever `slice` is due.
 */
async function reduce(value: unknown, arrays: readonly LargeArray[], slice: WorkSlice): Promise<Reduction> {
  let reduced = value;
  let more = 0;
  const fills: Array<{ path: readonly string[]; data: unknown[] }> = [];
  const remaps: Array<{ path: readonly string[]; indices: number[]; inner: Remap[] }> = [];
  for (const array of arrays) {
    const items = valueAt(value, array.path);
    // not an array, or too long: zod says what is wrong with it (at once, for one too long)
    if (!Array.isArray(items) || items.length > array.max) continue;
    const data: unknown[] = [];
    const kept: unknown[] = [];
    const indices: number[] = [];
    const inner: Remap[] = [];
    for (let index = 0; index < items.length; index++) {
      const item = await checkItem(array, items[index], slice);
      if (slice.due()) await slice.pause();
      if (item.parse.success) {
        data.push(item.parse.data);
      } else if (indices.length < KEPT_FAILURES) {
        kept.push(item.reduction.value);
        indices.push(index);
        inner.push(item.reduction.remap);
        more += item.reduction.more;
      } else {
        more += item.parse.issues.length + item.reduction.more;
      }
    }
    reduced = withValueAt(reduced, array.path, kept);
    fills.push({ path: array.path, data });
    remaps.push({ path: array.path, indices, inner });
  }
  return {
    value: reduced,
    more,
    remap: (path) => {
      for (const { path: arrayPath, indices, inner } of remaps) {
        const at = path[arrayPath.length];
        if (typeof at !== 'number' || at >= indices.length) continue;
        if (!arrayPath.every((key, depth) => path[depth] === key)) continue;
        return [...arrayPath, indices[at]!, ...inner[at]!(path.slice(arrayPath.length + 1))];
      }
      return [...path];
    },
    fill: (data) => {
      for (const { path, data: items } of fills) setValueAt(data, path, items);
    },
  };
}

/** One item, checked with its own large arrays cut down the same way. */
async function checkItem(
  array: LargeArray,
  item: unknown,
  slice: WorkSlice,
): Promise<{ parse: ProtoKeyParse; reduction: Reduction }> {
  const reduction = array.inner
    ? await reduce(item, array.inner, slice)
    : { value: item, more: 0, remap: (path: readonly PropertyKey[]) => [...path], fill() {} };
  const parse = safeParseKeepingProtoKeys(array.item, reduction.value);
  if (parse.success) reduction.fill(parse.data);
  return { parse, reduction };
}

/** The value at `path` (own properties of objects), or undefined. */
function valueAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** `value` with `replacement` at `path`: the objects on the way copied (keys in their order), not changed. */
function withValueAt(value: unknown, path: readonly string[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const object = value as Record<string, unknown>;
  const [key, ...rest] = path as [string, ...string[]];
  return { ...object, [key]: withValueAt(object[key], rest, replacement) };
}

/** Puts `items` in place of the (empty) array at `path` of zod's data, where zod kept one. */
function setValueAt(data: unknown, path: readonly string[], items: unknown[]): void {
  const parent = valueAt(data, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (parent !== null && typeof parent === 'object' && Array.isArray(valueAt(parent, [key]))) {
    (parent as Record<string, unknown>)[key] = items;
  }
}
