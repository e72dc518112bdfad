import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JSONSchema } from '../catalog/types.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { JsonValueSet, useLinearEquality } from './json-equality.js';
import { compileDocument } from './validate.js';

/**
 * `uniqueItems`, `enum` and `const` answer as Ajv's own keywords do (the same errors, the same pair of
 * items), in one pass over the value: Ajv compared every pair of items under `uniqueItems` over items
 * not typed as scalars (230 KB of objects: 11 s) and the value with each member of an `enum`.
 */

const OPTIONS = { strict: false, allErrors: true, verbose: true } as const;
const ajvOwn = new Ajv2020(OPTIONS);
const linear = new Ajv2020(OPTIONS);
useLinearEquality(linear);

/**
 * Keys on which Ajv's comparison (fast-deep-equal) is not JSON Schema's: it calls an object's
 * `valueOf` or `toString` key as a method (and throws), and takes two objects whose `constructor`
 * keys differ as objects for different (tested on their own below).
 */
const AJV_BROKEN_KEYS = new Set(['constructor', 'valueOf', 'toString']);

const scalar = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    1.0,
    1e21,
    2 ** 53,
    2 ** 53 + 2,
    -1e-7,
    5e-324,
    Number.MAX_VALUE,
    true,
    false,
    null,
  ),
  fc.constantFrom('', '0', '1', 'a', 'true', 'null', '__proto__', '{}', '[]'),
  fc.integer({ min: -3, max: 3 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 3 }),
);
const key = fc
  .oneof(fc.constantFrom('a', 'b', 'c', '0', '10', '2', '__proto__'), fc.string({ maxLength: 3 }))
  .filter((name) => !AJV_BROKEN_KEYS.has(name));
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(key, tie('value'), { maxKeys: 3, noNullPrototype: true }),
  ),
}));

/** `node` copied with the keys of its objects in reverse order (an own `__proto__` kept a key). */
function reordered(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(reordered);
  if (typeof node !== 'object' || node === null) return node;
  const copy: Record<string, unknown> = {};
  for (const name of Object.keys(node).reverse()) {
    Object.defineProperty(copy, name, {
      value: reordered((node as Record<string, unknown>)[name]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

/** A few values, and items drawn from them (copies, some with their keys reordered): duplicates are common. */
const poolAndItems = fc.array(value, { minLength: 1, maxLength: 4 }).chain((pool) =>
  fc.tuple(
    fc.constant(pool),
    fc
      .array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 8 })
      .map((picks) =>
        picks.map(([at, reorder]) => (reorder ? reordered : structuredClone)(pool[at % pool.length])),
      ),
  ),
);

/** Compiled once by each Ajv (which keeps a schema object's validator). */
const UNIQUE_ITEMS_SCHEMAS: JSONSchema[] = [
  { type: 'array', uniqueItems: true },
  { type: 'array', uniqueItems: true, items: { type: ['object', 'array', 'string'] } },
  { type: 'array', uniqueItems: true, items: { type: 'array', uniqueItems: true } },
];

/**
 * Items typed as scalars, which Ajv indexed in a plain object (two `"__proto__"` strings were never
 * equal there: compared with Ajv without them, and on their own below).
 */
const SCALAR_ITEMS_SCHEMAS: JSONSchema[] = [
  { type: 'array', uniqueItems: true, items: { type: ['number', 'string'] } },
  { type: 'array', uniqueItems: true, items: { type: 'integer' } },
  { type: 'array', uniqueItems: true, items: { type: ['string', 'boolean', 'null'] } },
];

/** Whether each Ajv takes `data`, and its errors as a model would be told them. */
function verdicts(schema: JSONSchema, data: unknown) {
  return [ajvOwn, linear].map((ajv) => {
    const validate = ajv.compile(schema);
    const valid = validate(structuredClone(data));
    const errors = (validate.errors ?? []).map(({ keyword, instancePath, schemaPath, params, message }) => ({
      keyword,
      instancePath,
      schemaPath,
      params,
      message,
    }));
    return { valid, errors };
  });
}

describe('uniqueItems, enum and const against Ajv’s own keywords', () => {
  it('give the same verdict and errors (the pair of items, the allowed values) on random JSON values', () => {
    fc.assert(
      fc.property(poolAndItems, ([pool, items]) => {
        const schemas: JSONSchema[] = [
          ...UNIQUE_ITEMS_SCHEMAS,
          { type: 'array', items: { enum: pool } },
          { type: 'array', items: { enum: [...pool, 'x', 2] }, uniqueItems: true },
          { type: 'array', items: { const: pool[0] } },
          { type: 'array', items: { anyOf: [{ const: pool.at(-1) }, { enum: [...pool.slice(1), 'y'] }] } },
        ];
        if (!items.includes('__proto__')) schemas.push(...SCALAR_ITEMS_SCHEMAS);
        for (const schema of schemas) {
          const [own, replaced] = verdicts(schema, items);
          expect(replaced).toEqual(own);
        }
      }),
      { numRuns: 250 },
    );
  });

  it('hold to JSON Schema’s equality: key order, 1 and 1.0, -0 and 0 alike; arrays, objects and strings apart', () => {
    const unique = linear.compile({ type: 'array', uniqueItems: true });
    const duplicated = [
      [
        { a: 1, b: [1, { c: 2, d: 3 }] },
        { b: [1.0, { d: 3, c: 2 }], a: 1 },
      ],
      [[0], [-0]],
      [{ n: 1e21 }, { n: 1000000000000000000000 }],
      [JSON.parse('{"__proto__": 1, "a": 2}'), JSON.parse('{"a": 2, "__proto__": 1}')],
      // Ajv's comparison threw on these (`a.valueOf is not a function`), and took these for different
      [{ valueOf: 1 }, { valueOf: 1 }],
      [{ toString: 'x' }, { toString: 'x' }],
      [{ constructor: {} }, { constructor: {} }],
    ];
    for (const items of duplicated) {
      expect(unique(items), JSON.stringify(items)).toBe(false);
      expect(unique.errors?.[0]).toMatchObject({ keyword: 'uniqueItems', params: { i: 1, j: 0 } });
    }
    const distinct = [
      [[], {}],
      [1, '1'],
      [null, 'null'],
      [{ a: [1, 2] }, { a: [2, 1] }],
      [{ a: 1 }, { a: 1, b: null }],
      [{ '1': 1 }, [1]],
      [2 ** 53, 2 ** 53 + 2],
    ];
    for (const items of distinct) expect(unique(items), JSON.stringify(items)).toBe(true);
    const strings = linear.compile({ type: 'array', uniqueItems: true, items: { type: 'string' } });
    expect(strings(['__proto__', 'a', '__proto__'])).toBe(false);
    expect(strings.errors?.[0]).toMatchObject({ keyword: 'uniqueItems', params: { i: 0, j: 2 } });
    expect(
      ajvOwn.compile({ type: 'array', uniqueItems: true, items: { type: 'string' } })([
        '__proto__',
        '__proto__',
      ]),
    ).toBe(true);
    const members = linear.compile({ enum: [{ a: 1, b: [{ c: 1, d: 2 }] }, 'x', 0] });
    expect(members({ b: [{ d: 2, c: 1.0 }], a: 1 })).toBe(true);
    expect(members(-0)).toBe(true);
    expect(members({ a: 1, b: [{ c: 1 }] })).toBe(false);
    expect(members(['x'])).toBe(false);
    const constant = linear.compile({ const: { valueOf: 1, list: [] } });
    expect(constant({ list: [], valueOf: 1 })).toBe(true);
    expect(constant({ list: {}, valueOf: 1 })).toBe(false);
  });

  it('compare values that are not JSON data (a direct tool.validate) as Ajv does', () => {
    const unique = linear.compile({ type: 'array', uniqueItems: true });
    expect(unique([new Date(5), { a: 1 }, new Date(5)])).toBe(false);
    expect(unique.errors?.[0]?.params).toEqual({ i: 2, j: 0 });
    expect(unique([new Date(5), new Date(6), undefined])).toBe(true);
    expect(new JsonValueSet([{ at: 1 }]).has(new Date(1))).toBe(false);
  });

  it('do not read a value larger than every member of an enum', () => {
    const members = new JsonValueSet([{ kind: 'k', tags: ['a', 'b'] }, 'x']);
    let reads = 0;
    const counted = <T extends object>(target: T) =>
      new Proxy(target, {
        get(object, name, receiver) {
          if (typeof name === 'string' && name !== 'length') reads++;
          return Reflect.get(object, name, receiver);
        },
      });
    expect(members.has(counted(Array.from({ length: 100_000 }, (_, index) => index)))).toBe(false);
    expect(members.has({ kind: 'k', tags: counted(Array.from({ length: 100_000 }, () => 'a')) })).toBe(false);
    expect(reads).toBe(0);
    expect(members.has({ tags: ['a', 'b'], kind: 'k' })).toBe(true);
  });
});

/** About `bytes` of JSON text of distinct objects `{ id, tags }`. */
function distinctObjects(bytes: number): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  let size = 0;
  while (size < bytes) {
    const object = { id: objects.length, tags: [objects.length % 7] };
    objects.push(object);
    size += JSON.stringify(object).length + 1;
  }
  return objects;
}

/** The most CPU time (ms) one check of a few hundred kilobytes below may take: 7–30 ms now, Ajv's 2–15 s. */
const CHECK_BOUND_MS = 250;

describe('uniqueItems over objects and an enum of objects, checked in one pass over a few hundred kilobytes', () => {
  it('take 240 KB of distinct objects under uniqueItems, and refuse one duplicate, without comparing every pair', async () => {
    const document = compileDocument({ type: 'array', uniqueItems: true }, 'ACME_UNIQUE', 'input');
    const items = distinctObjects(240 * 1024);
    const valid = await longestTurn(async () => document.check(items), CHECK_BOUND_MS, 1);
    expect(valid.value).toMatchObject({ success: true });
    expect(valid.turnMs, turnReport(valid)).toBeLessThanOrEqual(CHECK_BOUND_MS);
    // the second item equal to the first (keys reordered): Ajv's loop from the end meets it last
    const { id, tags } = items[0]!;
    const duplicated = [items[0], { tags, id }, ...items.slice(2)];
    const invalid = await longestTurn(async () => document.check(duplicated), CHECK_BOUND_MS, 1);
    expect(invalid.value).toEqual({
      success: false,
      issues: [
        { path: '(root)', message: 'has the same item at [0] and [1]: send an array whose items all differ' },
      ],
    });
    expect(invalid.turnMs, turnReport(invalid)).toBeLessThanOrEqual(CHECK_BOUND_MS);
  });

  it('take 300 KB of objects against an enum of 2,000 objects, and refuse one not among them, in time linear in the value', async () => {
    const members = Array.from({ length: 2_000 }, (_, index) => ({ kind: 'k', n: index, tags: ['a', 'b'] }));
    const document = compileDocument(
      { type: 'array', items: { enum: members } },
      'ACME_OBJECT_ENUM',
      'input',
    );
    // the last members (Ajv compared each item with all those before), keys reordered
    const rows = Array.from({ length: Math.floor((300 * 1024) / 36) }, (_, index) => ({
      tags: ['a', 'b'],
      n: 1_999 - (index % 10),
      kind: 'k',
    }));
    expect(JSON.stringify(rows).length).toBeGreaterThan(290 * 1024);
    const valid = await longestTurn(async () => document.check(rows), CHECK_BOUND_MS, 1);
    expect(valid.value).toMatchObject({ success: true });
    expect(valid.turnMs, turnReport(valid)).toBeLessThanOrEqual(CHECK_BOUND_MS);
    const invalid = await longestTurn(
      async () => document.check([...rows.slice(1), { kind: 'k', n: 2_000, tags: ['a', 'b'] }]),
      CHECK_BOUND_MS,
      1,
    );
    expect(invalid.value).toMatchObject({ success: false, issues: [{ path: `[${rows.length - 1}]` }] });
    expect(invalid.turnMs, turnReport(invalid)).toBeLessThanOrEqual(CHECK_BOUND_MS);
  });
});
