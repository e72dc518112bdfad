/**
 * What the walks of a value (a tool's arguments: `JsonShapeWalk`, json-slices.ts; a tool's result:
 * `JsonSafeWalk`, json-safe.ts) share to name where in it something is wrong, and the one check both
 * make of every array item they reach: whether the array is mostly holes.
 */

/** The most characters of a path in a message (a longer one keeps its start and its end). */
const MAX_PATH_CHARS = 240;
/** The most characters of one key in a path. */
const MAX_KEY_CHARS = 64;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * An array with more holes than this, most of what was walked of it, is refused: JSON writes each
 * hole as `null`, so `rows[123456789] = row` (an id as an index) is a value of a few bytes whose JSON
 * is 600 MB of nulls, written for a minute.
 */
export const MAX_HOLES = 1024;

/** A level of a walk: the object (its keys) or array (`keys` undefined) and the member after the one at. */
export interface PathFrame {
  readonly keys: readonly string[] | undefined;
  /** One past the member being walked. */
  readonly index: number;
}

/** An array of a walk: how many of the items walked so far are holes. */
export interface HoleCount {
  holes: number;
}

function segment(key: string, inArray: boolean): string {
  if (inArray) return `[${key}]`;
  if (IDENTIFIER.test(key) && key.length <= MAX_KEY_CHARS) return `.${key}`;
  const cut = key.length > MAX_KEY_CHARS ? `${key.slice(0, MAX_KEY_CHARS)}…` : key;
  // JSON escapes control characters and lone surrogates: a path is always printable
  return `[${JSON.stringify(cut)}]`;
}

/** `path` as a message shows it: at most {@link MAX_PATH_CHARS} characters, its start and its end. */
export function cutPath(path: string): string {
  if (path.length <= MAX_PATH_CHARS) return path;
  const half = MAX_PATH_CHARS / 2;
  return `${path.slice(0, half)}…${path.slice(-half)}`;
}

/**
 * The path (`root.rows[1].size`) of the member each of the first `frames` levels is at (`root` when
 * none), then `key` of it when given; not cut.
 */
export function framePath(root: string, stack: readonly PathFrame[], frames: number, key?: string): string {
  let path = root;
  for (let level = 0; level < frames; level++) {
    const frame = stack[level]!;
    const at = frame.index - 1;
    path += segment(frame.keys === undefined ? String(at) : frame.keys[at]!, frame.keys === undefined);
  }
  return key === undefined ? path : path + segment(key, false);
}

/**
 * Counts `item`, read at `index` of `array`, when it is a hole: true once the array has more than
 * {@link MAX_HOLES} holes and they are most of what was walked of it (its first `index + 1` items).
 */
export function tooSparse(array: object, index: number, item: unknown, count: HoleCount): boolean {
  return item === undefined && !(index in array) && ++count.holes > MAX_HOLES && count.holes * 2 > index + 1;
}

/**
 * Why an array {@link tooSparse} found is refused, as the end of a sentence after its path: `fix`
 * is the verb of what to do instead (`return`, `pass`).
 */
export function sparseArrayProblem(length: number, holes: number, index: number, fix: string): string {
  return `is a sparse array of length ${length}: ${holes} of its first ${index + 1} items are holes, which JSON writes as null each: ${fix} a dense array, or an object of the items that are there keyed by their indexes (Object.fromEntries(Object.entries(array)))`;
}
