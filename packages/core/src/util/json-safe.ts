import { types } from 'node:util';
import { quotedMessage } from '../errors.js';
import { cutPath, framePath, type HoleCount, sparseArrayProblem, tooSparse } from './json-path.js';
import {
  type ListedKeys,
  MAX_OBJECT_KEYS,
  parseJsonSliced,
  type Slice,
  stringifyJsonSliced,
  WIDE_OBJECT_KEYS,
  wideObjectProblem,
} from './json-slices.js';

/**
 * A tool's result is handed on as JSON by every surface (REST, MCP, the Composio routes, providers,
 * workbench code, the execution log), and as a value by `session.execute`. This module makes it one
 * value for all of them, once, where it leaves the tool: what JSON makes of it (`toJSON` applied,
 * `undefined`, functions and symbols left out of objects and `null` in arrays, NaN and ±Infinity
 * `null`, -0 `0`, boxed primitives unboxed, class instances their own enumerable properties), or,
 * when JSON cannot represent it or would silently lose it, the problem and where it is.
 */

/** Why a result cannot be handed on, and where in it. */
export interface ResultProblem {
  /** Where, as `data.rows[1].size` (`data` for the result itself). */
  path: string;
  /** What is there and what to return instead, as the end of a sentence. */
  problem: string;
}

/** How many entries pass between two looks at the clock. */
const CHECK_EVERY = 512;
/** An object with at most this many keys, all of them scalars, is checked where it is (no frame). */
const IN_PLACE_KEYS = 64;
/**
 * A value to rewrite with at most this many entries and characters of strings is written and read
 * back by one `JSON.stringify` and one `JSON.parse` (well under a millisecond); a larger one a slice
 * at a time.
 */
const NATIVE_ENTRIES = 1024;
const NATIVE_CHARS = 64 * 1024;

const DATE_TO_JSON = Date.prototype.toJSON;
const DATE_TO_ISO = Date.prototype.toISOString;

interface Frame extends HoleCount {
  value: object;
  /** Object: its own enumerable string keys; array: undefined. */
  keys: readonly string[] | undefined;
  /** The keys were listed before the walk (`listedKeys`): one may have gone since. */
  listed: boolean;
  length: number;
  index: number;
  /** How many levels the deepest member seen so far nests (0: scalars only). */
  below: number;
}

/** Objects JSON writes as `{}` (or as their indexes), losing what they hold: what to return instead. */
function lostKind(value: object): { what: string; fix: string } | undefined {
  if (types.isPromise(value)) return { what: 'a Promise', fix: 'await it before returning' };
  if (types.isMap(value) || types.isWeakMap(value))
    return {
      what: types.isMap(value) ? 'a Map' : 'a WeakMap',
      fix: 'return a plain object (Object.fromEntries(map)) or an array of entries',
    };
  if (types.isSet(value) || types.isWeakSet(value))
    return { what: types.isSet(value) ? 'a Set' : 'a WeakSet', fix: 'return an array ([...set])' };
  if (types.isAnyArrayBuffer(value) || types.isArrayBufferView(value))
    return {
      what: types.isDataView(value)
        ? 'a DataView'
        : `a binary ${Object.prototype.toString.call(value).slice(8, -1)}`,
      fix: 'return an array of numbers, or the bytes as a base64 string',
    };
  if (types.isMapIterator(value) || types.isSetIterator(value) || types.isGeneratorObject(value))
    return { what: 'an iterator', fix: 'return an array of its items ([...iterator])' };
  if (types.isRegExp(value)) return { what: 'a RegExp', fix: 'return its source as a string' };
  if (types.isNativeError(value) || value instanceof Error)
    return {
      what: 'an Error',
      fix: 'throw it to fail the call, or return its message as a string',
    };
  return undefined;
}

/**
 * Walks a tool's result a stretch at a time (`step(due)`, as the walks of json-slices.ts) and finds
 * whether JSON can represent it as it is (`problem` undefined, `rewrite` false), only after the
 * rewriting JSON does (`rewrite` true: see {@link jsonSafeResult}), or not at all (`problem`): a
 * BigInt, a cycle, nesting deeper than `maxDepth` levels, a `toJSON` or a getter that throws, or an
 * object JSON would write as `{}` although it holds something (a Map, a Set, a Promise, binary
 * data, an iterator, a RegExp, an Error).
 *
 * Linear in the size of the value: an object with objects inside is walked once, however often it
 * is reached (its nesting is kept to check it where it is reached again). Allocates a frame per
 * object that holds objects or many keys, and nothing for a small record of scalars.
 */
export class JsonSafeWalk {
  problem: ResultProblem | undefined;
  /** The value holds something JSON writes differently (see the module comment). */
  rewrite = false;
  /**
   * The keys the walk listed of each wide object (at least {@link WIDE_OBJECT_KEYS}), as
   * `Object.keys` gave them: the log's redaction of the result reads them here instead of listing
   * them again.
   */
  wideKeys: Map<object, readonly string[]> | undefined;
  /** Members walked (properties and items, each time they are reached) and characters of strings. */
  entries = 0;
  chars = 0;
  readonly #maxDepth: number;
  readonly #checkEvery: number;
  readonly #stack: Frame[] = [];
  /** Objects walked to the end, with how many levels they nest. */
  #done: Map<object, number> | undefined;
  readonly #listedKeys: ListedKeys | undefined;
  /** Masked in what a getter or a toJSON threw, which a problem quotes (cut: masked before the cut). */
  readonly #secrets: readonly string[];
  /**
   * Small objects are checked in place until one had too many keys: `for…in` of a wide object in
   * dictionary mode lists all its keys before the first, and `Object.keys` would list them again.
   */
  #inPlaceOn = true;

  /**
   * `listedKeys`: the keys of wide objects a walk listed already (listing them again is a long turn).
   * `secrets`: the call's credentials, masked where a problem quotes what a getter or toJSON threw.
   */
  constructor(value: unknown, maxDepth: number, options: JsonSafeOptions = {}) {
    this.#maxDepth = maxDepth;
    this.#listedKeys = options.listedKeys;
    this.#secrets = options.secrets ?? [];
    this.#checkEvery = options.checkEvery ?? CHECK_EVERY;
    try {
      this.#visit(value, '');
    } catch (error) {
      this.#threw(error);
    }
  }

  step(due: () => boolean): boolean {
    const stack = this.#stack;
    let work = 0;
    try {
      while (stack.length > 0 && this.problem === undefined) {
        if (work++ >= this.#checkEvery) {
          work = 0;
          if (due()) return false;
        }
        const frame = stack[stack.length - 1]!;
        if (frame.index >= frame.length) {
          stack.pop();
          const levels = frame.below + 1;
          this.#done ??= new Map();
          this.#done.set(frame.value, levels);
          const parent = stack[stack.length - 1];
          if (parent !== undefined && levels > parent.below) parent.below = levels;
          continue;
        }
        const index = frame.index++;
        const { keys } = frame;
        let item: unknown;
        if (keys === undefined) {
          item = (frame.value as unknown[])[index];
          if (tooSparse(frame.value, index, item, frame)) {
            this.#fail(
              this.#path(this.#stack.length - 1),
              sparseArrayProblem(frame.length, frame.holes, index, 'return'),
            );
            break;
          }
        } else {
          const key = keys[index]!;
          if (frame.listed && !Object.hasOwn(frame.value, key)) continue;
          item = (frame.value as Record<string, unknown>)[key];
        }
        this.entries++;
        if (typeof item === 'string') this.chars += item.length;
        // an item's key (what a toJSON is told) is its index: made a string only for a toJSON
        else this.#visit(item, keys === undefined ? index : keys[index]!, keys === undefined);
      }
    } catch (error) {
      this.#threw(error);
    }
    return true;
  }

  /** A getter or a `toJSON` threw (or a proxy's trap) as the value being visited was read. */
  #threw(error: unknown): void {
    this.#fail(this.#path(), `threw when it was read: ${quotedMessage(error, this.#secrets)}`);
  }

  #fail(path: string, problem: string): void {
    this.problem ??= { path: cutPath(path), problem };
  }

  /**
   * The path of the value being visited: the member each of the first `frames` frames is at (the
   * value itself when there is no frame), then `key` of it when given.
   */
  #path(frames = this.#stack.length, key?: string): string {
    return framePath('data', this.#stack, frames, key);
  }

  /** Checks one value (a member named `key`, `''` for the result itself). */
  #visit(value: unknown, key: string | number, inArray = false, replaced = false): void {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        // JSON writes NaN and ±Infinity as null, -0 as 0
        if (!Number.isFinite(value) || (value === 0 && 1 / value < 0)) this.rewrite = true;
        return;
      case 'undefined':
      case 'function':
      case 'symbol':
        this.rewrite = true;
        return;
      case 'bigint': {
        const toJSON = replaced ? undefined : (value as unknown as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') {
          this.#replace(value, key, inArray, toJSON);
          return;
        }
        this.#fail(
          this.#path(),
          'is a BigInt, which JSON has no number for: return a number (Number(value)) or a string (String(value))',
        );
        return;
      }
    }
    if (value === null) return;
    const object = value as object;
    if (!replaced) {
      const toJSON = (object as { toJSON?: unknown }).toJSON;
      if (toJSON === DATE_TO_JSON && (object as Date).toISOString === DATE_TO_ISO && types.isDate(object)) {
        // a Date's own toJSON answers a string, or null for an invalid date: nothing to look at
        this.rewrite = true;
        return;
      }
      if (typeof toJSON === 'function') {
        this.#replace(object, key, inArray, toJSON);
        return;
      }
    }
    if (Array.isArray(object)) {
      this.#enter(object, undefined, object.length);
      return;
    }
    const prototype = Object.getPrototypeOf(object);
    if (prototype !== Object.prototype && prototype !== null) {
      if (types.isBoxedPrimitive(object)) {
        // JSON writes the primitive inside; a boxed BigInt it cannot write
        this.rewrite = true;
        if (types.isBigIntObject(object)) this.#visit(object.valueOf(), key, inArray, true);
        return;
      }
      const lost = lostKind(object);
      if (lost !== undefined) {
        this.#fail(
          this.#path(),
          `is ${lost.what}, which JSON writes as {} and loses what it holds: ${lost.fix}`,
        );
        return;
      }
      // a class instance: JSON writes its own enumerable properties, a plain object
      this.rewrite = true;
    }
    const listed = this.#listedKeys?.(object);
    if (listed !== undefined) {
      if (!this.#tooWide(listed)) this.#enter(object, listed, listed.length, true);
      return;
    }
    // the items of an array are records as a rule: small ones are checked where they are
    if (inArray && this.#inPlaceOn && this.#inPlace(object)) return;
    const keys = Object.keys(object);
    if (this.#tooWide(keys)) return;
    if (keys.length >= WIDE_OBJECT_KEYS) {
      this.wideKeys ??= new Map();
      this.wideKeys.set(object, keys);
    }
    this.#enter(object, keys, keys.length);
  }

  /** The object being visited has more keys than {@link MAX_OBJECT_KEYS}: refused, listed this once. */
  #tooWide(keys: readonly string[]): boolean {
    if (keys.length <= MAX_OBJECT_KEYS) return false;
    this.#fail(
      this.#path(),
      wideObjectProblem(keys.length, "writing it (the log, the answer, a multi-execute's result)", 'return'),
    );
    return true;
  }

  /** A value with a `toJSON`: JSON writes what it answers (with the member's key), once. */
  #replace(value: unknown, key: string | number, inArray: boolean, toJSON: Function): void {
    this.rewrite = true;
    let replaced: unknown;
    try {
      replaced = toJSON.call(value, String(key));
    } catch (error) {
      this.#fail(this.#path(), `has a toJSON() that threw: ${quotedMessage(error, this.#secrets)}`);
      return;
    }
    this.#visit(replaced, key, inArray, true);
  }

  /**
   * Checks a small object of scalars where it is, by `for…in` (no list of its keys, no frame): a
   * record, as a rule. False, having checked only scalars, when it holds an object or has more keys.
   */
  #inPlace(object: object): boolean {
    let count = 0;
    let key: string | undefined;
    try {
      for (key in object) {
        if (!Object.hasOwn(object, key)) continue;
        if (++count > IN_PLACE_KEYS) {
          this.#inPlaceOn = false;
          return false;
        }
        const item: unknown = (object as Record<string, unknown>)[key];
        if (typeof item === 'object' && item !== null) return false;
        // a BigInt is named by its path: the object gets a frame
        if (typeof item === 'bigint') return false;
        if (typeof item === 'string') this.chars += item.length;
        else this.#visit(item, key);
      }
      this.entries += count;
    } catch (error) {
      this.#fail(
        this.#path(this.#stack.length, key),
        `threw when it was read: ${quotedMessage(error, this.#secrets)}`,
      );
      return true;
    }
    // one level; a record reached again is checked again (it has no objects to walk)
    const parent = this.#stack[this.#stack.length - 1];
    if (this.#stack.length + 1 > this.#maxDepth) this.#tooDeep(object);
    else if (parent !== undefined && parent.below < 1) parent.below = 1;
    return true;
  }

  #enter(object: object, keys: readonly string[] | undefined, length: number, listed = false): void {
    const depth = this.#stack.length + 1;
    const levels = this.#done?.get(object);
    const parent = this.#stack[this.#stack.length - 1];
    if (levels !== undefined) {
      // walked already: only where it is now reached matters
      if (depth + levels - 1 > this.#maxDepth) this.#tooDeep(object);
      else if (parent !== undefined && levels > parent.below) parent.below = levels;
      return;
    }
    if (depth > this.#maxDepth) {
      this.#tooDeep(object);
      return;
    }
    this.#stack.push({ value: object, keys, listed, length, index: 0, below: 0, holes: 0 });
  }

  /** `object`, the value being visited, takes the value past the depth limit: a cycle, or too deep. */
  #tooDeep(object: object): void {
    const stack = this.#stack;
    // the first object on the path that the path reaches again: a cycle, named where it closes
    for (let later = 1; later <= stack.length; later++) {
      const value = later < stack.length ? stack[later]!.value : object;
      for (let earlier = 0; earlier < later; earlier++) {
        if (stack[earlier]!.value !== value) continue;
        this.#fail(
          this.#path(later),
          `is a cycle: it holds itself (${this.#path(earlier)} again), which JSON cannot write: return a copy without the reference back (an id instead of the object)`,
        );
        return;
      }
    }
    this.#fail(
      `${this.#path(Math.min(stack.length, 6))}…`,
      `nests objects and arrays more than ${this.#maxDepth} levels deep: return at most ${this.#maxDepth} levels (flatten it, or return the deep part as a JSON string)`,
    );
  }
}

/** How a {@link JsonSafeWalk} works (see its constructor). */
export interface JsonSafeOptions {
  checkEvery?: number;
  listedKeys?: ListedKeys;
  secrets?: readonly string[];
}

/**
 * A tool's result as every surface hands it on: the value itself when JSON represents it as it is
 * (the usual case: one walk, no copy), else the value JSON makes of it (written and read back, a
 * slice at a time when large), or the problem when JSON cannot represent it. `undefined` (and a
 * result JSON writes nothing for: a function) is `null`.
 */
export async function jsonSafeResult(
  value: unknown,
  maxDepth: number,
  slice: Slice,
  options: Omit<JsonSafeOptions, 'checkEvery'> = {},
): Promise<
  | { value: unknown; problem?: undefined; wideKeys?: ReadonlyMap<object, readonly string[]> }
  | { value?: undefined; problem: ResultProblem }
> {
  if (value === undefined) return { value: null };
  const walk = new JsonSafeWalk(value, maxDepth, options);
  const due = () => slice.due();
  while (!walk.step(due)) await slice.pause();
  if (walk.problem !== undefined) return { problem: walk.problem };
  if (!walk.rewrite) return { value, wideKeys: walk.wideKeys };
  let chunks: string[] | undefined;
  try {
    if (walk.entries <= NATIVE_ENTRIES && walk.chars <= NATIVE_CHARS) {
      const text = JSON.stringify(value);
      return { value: text === undefined ? null : JSON.parse(text) };
    }
    chunks = await stringifyJsonSliced(value, slice);
  } catch (error) {
    // a getter or toJSON that answered differently when read again
    return {
      problem: {
        path: 'data',
        problem: `could not be written as JSON: ${quotedMessage(error, options.secrets)}`,
      },
    };
  }
  if (chunks === undefined) return { value: null };
  const text = chunks.length === 1 ? chunks[0]! : chunks.join('');
  return { value: await parseJsonSliced(text, slice) };
}
