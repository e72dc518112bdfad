import { createRequire } from 'node:module';
import type { Ajv2020, CodeKeywordDefinition, KeywordCxt } from 'ajv/dist/2020.js';
import { _ } from 'ajv/dist/2020.js';
import { getSchemaTypes } from 'ajv/dist/compile/validate/dataType.js';
import { isSchemaObject } from './subschemas.js';

/**
 * JSON Schema's equality of values (`uniqueItems`, `enum`, `const`) in time linear in the value: each
 * value is written as a text that two values share exactly when they are equal (object keys sorted,
 * numbers by value so `1`, `1.0` and `-0`/`0` alike, arrays apart from objects), and the texts are
 * looked up in a set (items typed as scalars: the items themselves, in a `Map`). Ajv compares deeply
 * instead: every pair of items under `uniqueItems` over items not typed as scalars (230 KB of
 * distinct objects: 11 s), and the value with each member of an `enum` in turn (4,000 strings
 * against 5,000 members: 132 ms; objects, deeply). Its comparison also threw on objects with a
 * `valueOf` or `toString` key (`a.valueOf is not a function`) and took two objects with an equal
 * `constructor` key for different.
 */

/** Marks a value that is not JSON data (a `Date`, a class instance, `undefined`…): compared as Ajv does. */
const NOT_JSON = Symbol('not JSON');

/** Marks a value larger than the limit of {@link equalityKey}. */
const TOO_LARGE = Symbol('too large');

/**
 * The text of `value` under JSON Schema's equality (see above): the JSON text of a copy whose
 * objects have their keys in order (in one walk, then `JSON.stringify`: about three times
 * `JSON.stringify` of the value, half the time of writing the text in JavaScript). `undefined` once
 * its size (one per value, entry and key, plus the length of its strings and keys) passes `limit`:
 * a value larger than every member of an `enum` equals none of them, and is not copied whole.
 */
function equalityKey(
  value: unknown,
  limit = Number.MAX_SAFE_INTEGER,
): { key: string; size: number } | undefined | typeof NOT_JSON {
  const budget = { left: limit };
  try {
    const key = JSON.stringify(sortedCopy(value, budget));
    return { key, size: limit - budget.left };
  } catch (error) {
    if (error === TOO_LARGE) return undefined;
    if (error === NOT_JSON) return NOT_JSON;
    throw error;
  }
}

/** `node` with its objects' keys in order, or a throw of {@link TOO_LARGE} or {@link NOT_JSON}. */
function sortedCopy(node: unknown, budget: { left: number }): unknown {
  switch (typeof node) {
    case 'string':
      budget.left -= node.length + 1;
      break;
    case 'number':
      // `JSON.stringify` writes `-0` as `0` (equal), but `NaN` and `Infinity` as `null`
      if (!Number.isFinite(node)) throw NOT_JSON;
      budget.left--;
      break;
    case 'boolean':
      budget.left--;
      break;
    case 'object': {
      if (node === null) {
        budget.left--;
        break;
      }
      const prototype = Object.getPrototypeOf(node);
      if (Array.isArray(node) && prototype === Array.prototype) {
        budget.left -= 1 + node.length;
        if (budget.left < 0) throw TOO_LARGE;
        const copy = new Array<unknown>(node.length);
        for (let index = 0; index < node.length; index++) copy[index] = sortedCopy(node[index], budget);
        return copy;
      }
      if (prototype !== Object.prototype && prototype !== null) throw NOT_JSON;
      const keys = Object.keys(node);
      budget.left -= 1 + keys.length;
      if (budget.left < 0) throw TOO_LARGE;
      if (keys.length > 1) keys.sort();
      const copy: Record<string, unknown> = {};
      for (const key of keys) {
        budget.left -= key.length;
        const entry = sortedCopy((node as Record<string, unknown>)[key], budget);
        // an own `__proto__` (JSON.parse makes one) stays a key of the copy, not its prototype
        if (key === '__proto__') {
          Object.defineProperty(copy, key, {
            value: entry,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else copy[key] = entry;
      }
      return copy;
    }
    default:
      throw NOT_JSON;
  }
  if (budget.left < 0) throw TOO_LARGE;
  return node;
}

let ajvEqual: ((a: unknown, b: unknown) => boolean) | undefined;

/** Ajv's own deep comparison (fast-deep-equal), for values that are not JSON data. */
function deepEqual(a: unknown, b: unknown): boolean {
  ajvEqual ??= (
    createRequire(import.meta.url)('ajv/dist/runtime/equal') as {
      default: (a: unknown, b: unknown) => boolean;
    }
  ).default;
  return ajvEqual(a, b);
}

/**
 * The pair of equal items Ajv's `uniqueItems` reports (`i` the last item equal to an earlier one, `j`
 * the last such earlier one), or `undefined` when the items all differ: one pass, each item's text
 * looked up among those before it.
 */
export function duplicateItems(items: readonly unknown[]): [i: number, j: number] | undefined {
  const lastAt = new Map<string, number>();
  let pair: [number, number] | undefined;
  for (let index = 0; index < items.length; index++) {
    const written = equalityKey(items[index]);
    // Ajv's pairs, item by item, for a value that is not JSON data (a direct `tool.validate`)
    if (typeof written !== 'object') return pairwiseDuplicate(items);
    const earlier = lastAt.get(written.key);
    if (earlier !== undefined) pair = [index, earlier];
    lastAt.set(written.key, index);
  }
  return pair;
}

/**
 * For items typed as scalars (`types`): the pair Ajv's own pass reports (`i` the last item equal to
 * a later one, `j` that later one), items of none of the types left out (their `type` errors say
 * what is wrong), in a `Map` of the items themselves. Ajv indexed them in a plain object, where two
 * `"__proto__"` strings were never found equal.
 */
export function duplicateScalars(
  items: readonly unknown[],
  types: readonly string[],
): [i: number, j: number] | undefined {
  // Ajv's `type` keyword: `typeof` (or `null`), an integer a number with no fraction
  const kinds = new Set(types.map((type) => (type === 'integer' ? 'number' : type)));
  const wholeOnly = types.includes('integer') && !types.includes('number');
  const laterAt = new Map<unknown, number>();
  for (let index = items.length; index--; ) {
    const item = items[index];
    const kind = item === null ? 'null' : typeof item;
    if (
      !kinds.has(kind) ||
      (wholeOnly && kind === 'number' && ((item as number) % 1 || Number.isNaN(item)))
    ) {
      continue;
    }
    const later = laterAt.get(item);
    if (later !== undefined) return [index, later];
    laterAt.set(item, index);
  }
  return undefined;
}

function pairwiseDuplicate(items: readonly unknown[]): [number, number] | undefined {
  for (let i = items.length; i--; ) {
    for (let j = i; j--; ) if (deepEqual(items[i], items[j])) return [i, j];
  }
  return undefined;
}

/**
 * The members of an `enum` (or a `const`), a value found among them in time linear in the value, at
 * most the largest member's size: scalars in a set (as `===` finds them), objects and arrays by
 * their text.
 */
export class JsonValueSet {
  readonly #scalars = new Set<unknown>();
  readonly #keys = new Set<string>();
  /** The objects and arrays among the members, for a value that is not JSON data. */
  readonly #structured: unknown[] = [];
  /** Members that are not JSON data themselves (a schema built in JavaScript), compared as Ajv does. */
  readonly #unkeyed: unknown[] = [];
  /** The size of the largest object or array among the members (see {@link equalityKey}). */
  #largest = 0;

  constructor(members: readonly unknown[]) {
    for (const member of members) {
      if (typeof member !== 'object' || member === null) {
        this.#scalars.add(member);
        continue;
      }
      this.#structured.push(member);
      const written = equalityKey(member);
      if (typeof written !== 'object') this.#unkeyed.push(member);
      else {
        this.#keys.add(written.key);
        this.#largest = Math.max(this.#largest, written.size);
      }
    }
  }

  has(value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return this.#scalars.has(value);
    if (this.#structured.length === 0) return false;
    if (this.#unkeyed.some((member) => deepEqual(value, member))) return true;
    const written = equalityKey(value, this.#largest);
    if (written === NOT_JSON) return this.#structured.some((member) => deepEqual(value, member));
    return written !== undefined && this.#keys.has(written.key);
  }
}

/**
 * Replaces Ajv's `uniqueItems`, `enum`, and `const` of an object or array in `ajv` with checks by
 * {@link duplicateItems} ({@link duplicateScalars} over items typed as scalars), and
 * {@link JsonValueSet}, at the same place among the keywords (so errors come in the same order) and
 * with the same errors (Ajv's own definitions of them). A scalar `const` and `$data` references stay
 * Ajv's.
 */
export function useLinearEquality(ajv: Ajv2020): void {
  replaceKeyword(ajv, 'uniqueItems', (cxt, ajvCode) => {
    const { gen, data, schema, parentSchema, $data } = cxt;
    const items = parentSchema.items;
    const itemTypes = isSchemaObject(items) ? getSchemaTypes(items) : [];
    const scalars = itemTypes.length > 0 && !itemTypes.some((type) => type === 'object' || type === 'array');
    if ($data || schema !== true) return ajvCode(cxt);
    const pair = gen.const(
      'pair',
      scalars
        ? _`${gen.scopeValue('func', { ref: duplicateScalars })}(${data}, ${gen.scopeValue('obj', { ref: itemTypes })})`
        : _`${gen.scopeValue('func', { ref: duplicateItems })}(${data})`,
    );
    cxt.setParams({ i: _`${pair}[0]`, j: _`${pair}[1]` });
    cxt.fail(_`${pair} !== undefined`);
  });
  replaceKeyword(ajv, 'enum', (cxt, ajvCode) => {
    const { gen, data, schema, $data } = cxt;
    // an empty one fails the schema there
    if ($data || !Array.isArray(schema) || schema.length === 0) return ajvCode(cxt);
    const members = gen.scopeValue('obj', { ref: new JsonValueSet(schema) });
    cxt.pass(_`${members}.has(${data})`);
  });
  replaceKeyword(ajv, 'const', (cxt, ajvCode) => {
    const { gen, data, schema, $data } = cxt;
    if ($data || typeof schema !== 'object' || schema === null) return ajvCode(cxt);
    const members = gen.scopeValue('obj', { ref: new JsonValueSet([schema]) });
    cxt.pass(_`${members}.has(${data})`);
  });
}

/**
 * Puts `code` in place of Ajv's code for `keyword` (given Ajv's, for the cases it keeps): the same
 * definition otherwise, before the keyword that followed it.
 */
function replaceKeyword(
  ajv: Ajv2020,
  keyword: string,
  code: (cxt: KeywordCxt, ajvCode: (cxt: KeywordCxt) => void) => void,
): void {
  const definition = ajv.getKeyword(keyword);
  if (typeof definition !== 'object' || !('code' in definition)) {
    throw new Error(`Ajv has no code for the ${keyword} keyword`);
  }
  const ajvCode = definition.code.bind(definition);
  const group = ajv.RULES.rules.find(({ rules }) => rules.some((rule) => rule.keyword === keyword));
  const rules = group?.rules ?? [];
  const before = rules[rules.findIndex((rule) => rule.keyword === keyword) + 1]?.keyword;
  ajv.removeKeyword(keyword);
  const replaced: CodeKeywordDefinition = {
    ...(definition as CodeKeywordDefinition),
    code: (cxt) => code(cxt, ajvCode),
  };
  if (before !== undefined) replaced.before = before;
  ajv.addKeyword(replaced);
}
