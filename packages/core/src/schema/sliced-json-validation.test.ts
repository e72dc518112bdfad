import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JSONSchema, ValidationResult } from '../catalog/types.js';
import { AJV_CHUNK_ENTRIES } from './sliced-json-validation.js';
import { compileJsonSchemaValidator, slicedValidatorOf } from './validate.js';

/**
 * A JSON Schema tool's large arguments are checked by Ajv a part at a time, and the answer is the
 * one of a whole check: the same success or failure, the same value handed on (defaults written in),
 * the same issues in the same order (explained from the same errors: unions, the issues' bound).
 * Each case is compared with the validator's one call on values of several thousand entries.
 */

/** A slice that is always due: the check yields between each of its parts (and the copy's). */
const everyPart = { due: () => true, pause: () => Promise.resolve() };

async function bothWays(schema: JSONSchema, input: unknown) {
  const validate = compileJsonSchemaValidator(schema, 'SLICED_TOOL');
  const whole: ValidationResult = validate(input);
  const sliced = await slicedValidatorOf(validate)!(input, everyPart);
  return { whole, sliced };
}

const N = 3 * AJV_CHUNK_ENTRIES;
const range = (count: number) => Array.from({ length: count }, (_, index) => index);
const item: JSONSchema = {
  type: 'object',
  properties: { a: { type: 'string' }, b: { type: 'number', default: 7 } },
  required: ['a'],
  additionalProperties: false,
};

const cases: {
  name: string;
  schema: JSONSchema;
  input: (bad: (index: number) => boolean) => unknown;
}[] = [
  {
    name: 'array items with defaults, required and unknown keys, beside checked properties',
    schema: {
      type: 'object',
      properties: {
        first: { type: 'string' },
        items: { type: 'array', items: item },
        last: { type: 'number', default: 3 },
      },
      required: ['first', 'items'],
      additionalProperties: false,
    },
    input: (bad) => ({
      ...(bad(5) ? { zzz: 1 } : { first: 'f' }),
      items: range(N).map((index) =>
        bad(index) ? (index % 3 ? { b: 'x' } : { a: 'a', c: 1 }) : { a: `a${index}` },
      ),
      ...(bad(7) ? { last: 'l' } : {}),
    }),
  },
  {
    name: 'items that are unions',
    schema: {
      type: 'object',
      properties: {
        shapes: {
          type: 'array',
          items: {
            anyOf: [
              {
                type: 'object',
                properties: { kind: { const: 'circle' }, r: { type: 'number' } },
                required: ['kind', 'r'],
              },
              {
                type: 'object',
                properties: { kind: { const: 'square' }, side: { type: 'number' } },
                required: ['kind', 'side'],
              },
            ],
          },
        },
      },
    },
    input: (bad) => ({
      shapes: range(N).map((index) =>
        bad(index)
          ? { kind: 'circle', r: 'big' }
          : index % 2
            ? { kind: 'circle', r: 1 }
            : { kind: 'square', side: 2 },
      ),
    }),
  },
  {
    name: 'a record beside a nested array of arrays',
    schema: {
      type: 'object',
      properties: {
        byKey: { type: 'object', additionalProperties: item },
        grid: { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
      },
    },
    input: (bad) => ({
      grid: [
        range(N),
        ...range(N / 8).map((row) => [row]),
        range(N).map((index) => (bad(index) ? 0.5 : index)),
      ],
      // with an own `__proto__` key (as JSON.parse makes)
      byKey: Object.fromEntries([
        ['__proto__', bad(5) ? { a: 5 } : { a: 'p' }],
        ...range(N).map((index) => [
          bad(index) && index % 2 ? `x${index}` : `k${index}`,
          bad(index) ? {} : { a: 'a' },
        ]),
      ]),
    }),
  },
  {
    name: 'nested objects with errors of their own around large arrays at two depths',
    schema: {
      type: 'object',
      properties: {
        a: { type: 'string' },
        outer: {
          type: 'object',
          properties: {
            before: { type: 'number' },
            inner: {
              type: 'object',
              properties: { rows: { type: 'array', items: item } },
              required: ['rows', 'must'],
            },
            list: { type: 'array', items: { type: 'integer' } },
            after: { type: 'string' },
          },
          required: ['before'],
          additionalProperties: false,
        },
        z: { type: 'boolean' },
      },
      required: ['a'],
    },
    input: (bad) => ({
      outer: {
        ...(bad(5) ? { extra: 1 } : {}),
        after: bad(7) ? 1 : 'a',
        inner: {
          rows: range(N).map((index) => (bad(index) ? { b: 1 } : { a: 'a' })),
          ...(bad(5) ? {} : { must: 1 }),
        },
        before: bad(5) ? 'b' : 1,
        list: range(N).map((index) => (bad(index) ? 0.5 : index)),
      },
      z: bad(5) ? 'no' : true,
      ...(bad(5) ? {} : { a: 'a' }),
    }),
  },
  {
    name: 'long strings (checked whole where they are) beside a large array and in it',
    schema: {
      type: 'object',
      properties: {
        text: { type: 'string', maxLength: 300_000, pattern: '^a+$' },
        items: { type: 'array', items: { type: 'string', minLength: 2 } },
      },
      required: ['text'],
    },
    input: (bad) => ({
      text: bad(5) ? 'ab'.repeat(150_001) : 'a'.repeat(300_000),
      items: range(N).map((index) => (index === 7 ? 'b'.repeat(300_000) : bad(index) ? 'x' : `s${index}`)),
    }),
  },
  {
    name: 'an array with a length bound, a record with checked names (checked whole, in the validation thread)',
    schema: {
      type: 'object',
      properties: {
        items: { type: 'array', items: { type: 'string' }, maxItems: 2 * N },
        named: { type: 'object', additionalProperties: { type: 'string' }, propertyNames: { pattern: '^k' } },
      },
    },
    input: (bad) => ({
      items: range(N).map((index) => (bad(index) ? index : `s${index}`)),
      named: Object.fromEntries(range(N).map((index) => [bad(index) ? `x${index}` : `k${index}`, 'v'])),
    }),
  },
  {
    name: 'items with defaults under minItems and uniqueItems, behind a $ref (in the validation thread)',
    schema: {
      type: 'object',
      properties: { items: { $ref: '#/$defs/list' }, tags: { $ref: '#/$defs/tags' } },
      required: ['items'],
      $defs: {
        list: { type: 'array', items: item, minItems: 1 },
        tags: { type: 'array', items: { type: 'string' }, uniqueItems: true },
      },
    },
    input: (bad) => ({
      items: range(N).map((index) => (bad(index) ? { b: 'x' } : { a: `a${index}` })),
      tags: range(N).map((index) => (bad(index) ? 't0' : `t${index}`)),
    }),
  },
  {
    name: 'allOf at the top, anyOf and oneOf around large arrays (in the validation thread)',
    schema: {
      type: 'object',
      allOf: [
        {
          type: 'object',
          properties: {
            any: { anyOf: [{ type: 'array', items: item }, { type: 'string' }] },
            one: {
              oneOf: [
                { type: 'array', items: { type: 'integer' } },
                { type: 'array', items: item },
              ],
            },
          },
        },
        { required: ['any'] },
      ],
    },
    input: (bad) => ({
      any: range(N).map((index) => (bad(index) ? { b: 'x' } : { a: `a${index}` })),
      one: range(N).map((index) => (bad(index) ? 0.5 : index)),
    }),
  },
];

describe('a JSON Schema tool checks large arguments a part at a time, with the answer of a whole check', () => {
  for (const { name, schema, input } of cases) {
    for (const [label, bad] of [
      ['valid', () => false],
      ['a few invalid entries', (index: number) => index % 997 === 5],
      ['more issues than are listed', (index: number) => index % 2 === 1],
    ] as const) {
      it(`${name}: ${label}`, async () => {
        const { whole, sliced } = await bothWays(schema, input(bad));
        expect(whole.success).toBe(label === 'valid');
        expect(sliced).toEqual(whole);
        if (sliced.success && whole.success)
          expect(JSON.stringify(sliced.value)).toBe(JSON.stringify(whole.value));
      });
    }
  }

  it('answers as a whole check for large parts it cannot cut, checked in the validation thread', async () => {
    // the array's schema wrapped in what the sliced check does not cut, at the top or around it
    const wrappers: ((list: JSONSchema) => JSONSchema)[] = [
      (list) => ({ type: 'object', properties: { items: { ...list, minItems: 2, maxItems: N } } }),
      (list) => ({ type: 'object', properties: { items: { $ref: '#/$defs/list' } }, $defs: { list } }),
      (list) => ({ type: 'object', properties: { items: { anyOf: [list, { type: 'string' }] } } }),
      (list) => ({
        type: 'object',
        properties: { items: { oneOf: [list, { type: 'array', items: { type: 'integer' } }] } },
      }),
      (list) => ({
        type: 'object',
        allOf: [{ type: 'object', properties: { items: list } }, { required: ['items'] }],
      }),
      (list) => ({ type: 'object', properties: { items: { ...list, uniqueItems: true } } }),
    ];
    const list: JSONSchema = { type: 'array', items: item };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: wrappers.length - 1 }),
        fc.integer({ min: N - 2, max: N + 2 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(3)), { maxLength: 4 }),
        async (wrapper, count, wrong) => {
          const at = new Map(wrong.map(([index, which]) => [index % count, which]));
          const bad = [{ b: 'x' }, { a: 'a', c: 1 }, 5, { a: 'a0' }];
          const items = range(count).map((index) =>
            at.has(index) ? bad[at.get(index)!] : { a: `a${index}` },
          );
          const { whole, sliced } = await bothWays(wrappers[wrapper]!(list), { items });
          expect(sliced).toEqual(whole);
          if (sliced.success && whole.success)
            expect(JSON.stringify(sliced.value)).toBe(JSON.stringify(whole.value));
        },
      ),
      { numRuns: 60, seed: 27 },
    );
  });
});
