import type { ListedKeys, Slice } from './json-slices.js';
import { setOwn } from './own-key.js';
import { LONG_TEXT_CHARS, maskedLongText, REDACTED, secretMasker } from './redact.js';

/** How many entries pass between two looks at the clock. */
const CHECK_EVERY = 512;

interface Frame {
  source: object;
  /** Object: its keys; array: undefined. */
  keys: readonly string[] | undefined;
  /** The keys were listed before the walk: one may have gone since (it is left out). */
  listed: boolean;
  index: number;
  length: number;
  /** The members so far, once one of them (or a key) changed; undefined while none did. */
  items: unknown[] | undefined;
  /** The object's keys, masked, once one of them changed. */
  maskedKeys: string[] | undefined;
  /** Keys gone since they were listed: their places in `items` are left out. */
  gone: Set<number> | undefined;
}

/**
 * A tool's result (JSON data, as `jsonSafeResult` answers it) with every occurrence of a known secret
 * in its strings and keys replaced by `[REDACTED]`, as `maskSecrets` does: the same value when it
 * holds none (no copy), else a copy of only the objects and arrays on the way to one. Each object is
 * walked once however often it is referenced (a reference kept where it was), a slice at a time, so
 * a result of any size costs a walk of it and holds no turn long.
 */
export async function maskedResult(
  value: unknown,
  secrets: readonly string[],
  slice: Slice,
  listedKeys?: ListedKeys,
): Promise<unknown> {
  // a tool that cut a text may have cut a secret in it: what is left at the cut is masked too
  const mask = secretMasker(secrets, true);
  if (mask === undefined) return value;
  if (typeof value === 'string')
    return value.length > LONG_TEXT_CHARS ? maskedLongText(value, secrets, true, slice) : mask(value);
  if (typeof value !== 'object' || value === null) return value;
  const done = new Map<object, unknown>();
  const stack: Frame[] = [];
  const enter = (source: object): void => {
    if (Array.isArray(source)) {
      stack.push(frame(source, undefined, false, source.length));
      return;
    }
    const listed = listedKeys?.(source);
    const keys = listed ?? Object.keys(source);
    stack.push(frame(source, keys, listed !== undefined, keys.length));
  };
  enter(value);
  // off once a record had too many keys (`for…in` of a wide object lists them all first)
  const inPlace = { on: true };
  let result: unknown = value;
  let work = 0;
  while (stack.length > 0) {
    if (++work >= CHECK_EVERY) {
      work = 0;
      if (slice.due()) await slice.pause();
    }
    const top = stack[stack.length - 1]!;
    if (top.index < top.length) {
      const index = top.index++;
      const { keys } = top;
      let item: unknown;
      if (keys === undefined) item = (top.source as unknown[])[index];
      else {
        const key = keys[index]!;
        if (top.listed && !Object.hasOwn(top.source, key)) {
          changed(top, index, undefined);
          top.gone ??= new Set();
          top.gone.add(index);
          continue;
        }
        const maskedKey = mask(key);
        if (maskedKey !== key) {
          changed(top, index, undefined);
          top.maskedKeys![index] = maskedKey;
        }
        item = (top.source as Record<string, unknown>)[key];
      }
      if (typeof item === 'string') {
        const masked =
          item.length > LONG_TEXT_CHARS ? await maskedLongText(item, secrets, true, slice) : mask(item);
        if (masked !== item) changed(top, index, item);
        if (top.items !== undefined) top.items[index] = masked;
      } else if (typeof item === 'object' && item !== null) {
        if (keys === undefined && inPlace.on && !Array.isArray(item) && cleanRecord(item, mask, inPlace)) {
          // an item of an array is a record as a rule: one of scalars without a secret stays
          if (top.items !== undefined) top.items[index] = item;
        } else if (done.has(item)) {
          const masked = done.get(item);
          if (masked !== item) changed(top, index, item);
          if (top.items !== undefined) top.items[index] = masked;
        } else enter(item);
      } else if (top.items !== undefined) top.items[index] = item;
      continue;
    }
    stack.pop();
    const masked = top.items === undefined ? top.source : built(top);
    done.set(top.source, masked);
    const parent = stack[stack.length - 1];
    if (parent === undefined) {
      result = masked;
      break;
    }
    const at = parent.index - 1;
    if (masked !== top.source) changed(parent, at, top.source);
    if (parent.items !== undefined) parent.items[at] = masked;
  }
  return result;
}

/**
 * Of `secrets`, those a value that {@link maskedResult} masked for `masked` may still hold: the ones
 * it was not masked for (a field a scheme shows), and any that masking itself could make (one with
 * `[` or `]`, or inside the marker, may run across a marker and the text beside it). What the
 * execution log of a masked result searches: a call's result is searched for each secret once, not
 * twice. Made once per pair of lists (an account's, call after call).
 */
export function secretsLeftAfterMasking(
  secrets: readonly string[],
  masked: readonly string[],
): readonly string[] {
  const made = leftBySecrets.get(secrets);
  if (made?.masked === masked) return made.left;
  const maskedSet = new Set(masked);
  const left = secrets.filter(
    (secret) =>
      !maskedSet.has(secret) || secret.includes('[') || secret.includes(']') || REDACTED.includes(secret),
  );
  leftBySecrets.set(secrets, { masked, left });
  return left;
}

const leftBySecrets = new WeakMap<
  readonly string[],
  { masked: readonly string[]; left: readonly string[] }
>();

/** The most keys of a record {@link cleanRecord} looks at where it is. */
const IN_PLACE_KEYS = 64;

/**
 * Whether a small object holds only scalars and no secret (in its keys or strings): then it stays as
 * it is, without a frame or a list of its keys. False when it holds an object, has more keys, or a
 * secret: it is walked then.
 */
function cleanRecord(object: object, mask: (text: string) => string, inPlace: { on: boolean }): boolean {
  let count = 0;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    if (++count > IN_PLACE_KEYS) {
      inPlace.on = false;
      return false;
    }
    if (mask(key) !== key) return false;
    const item: unknown = (object as Record<string, unknown>)[key];
    if (typeof item === 'string') {
      if (item.length > LONG_TEXT_CHARS || mask(item) !== item) return false;
    } else if (typeof item === 'object' && item !== null) return false;
  }
  return true;
}

function frame(source: object, keys: readonly string[] | undefined, listed: boolean, length: number): Frame {
  return { source, keys, listed, index: 0, length, items: undefined, maskedKeys: undefined, gone: undefined };
}

/**
 * Marks the frame changed at `index`: the first change copies the members before it (and the keys).
 * `item` is the member at `index` as it was (its place is written by the caller).
 */
function changed(top: Frame, index: number, item: unknown): void {
  if (top.items !== undefined) return;
  const items: unknown[] = new Array(top.length);
  const { keys, source } = top;
  for (let before = 0; before < index; before++) {
    items[before] =
      keys === undefined ? (source as unknown[])[before] : (source as Record<string, unknown>)[keys[before]!];
  }
  items[index] = item;
  top.items = items;
  if (keys !== undefined) top.maskedKeys = keys.slice();
}

/** The copy of a frame's object or array with its masked members (and keys). */
function built(top: Frame): unknown {
  const items = top.items!;
  if (top.keys === undefined) return items;
  const copy: Record<string, unknown> = {};
  const keys = top.maskedKeys!;
  for (let index = 0; index < keys.length; index++) {
    if (top.gone?.has(index)) continue;
    setOwn(copy, keys[index]!, items[index]);
  }
  return copy;
}
