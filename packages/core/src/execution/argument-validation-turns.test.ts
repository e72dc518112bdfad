import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema } from '../catalog/types.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { ToolMux } from '../toolmux.js';

/**
 * Issue 15, item 2: a call whose arguments are a megabyte does not hold the event loop that other
 * requests wait for while its arguments are validated, whether they are valid or not and whether
 * the tool's schema is zod's or a JSON Schema. Before, a zod tool's arguments went to zod in one
 * call: a megabyte of invalid items held the loop for 300–650 ms (an issue for each wrong field),
 * valid ones 20–60 ms. What is held to a bound is the longest turn of the event loop in CPU time of
 * the thread (the best of three runs), which a loaded 2-core machine inflates far less than wall
 * time; the goal is 20 ms of event-loop delay, the bound leaves room for the machine's load and the
 * garbage collector.
 */
const BOUND_MS = 60;
const MB = 1024 * 1024;
const quiet = { debug() {}, warn() {}, error() {} };

const item = z.object({ a: z.string(), b: z.number() });
const itemJson = {
  type: 'object',
  properties: { a: { type: 'string' }, b: { type: 'number' } },
  required: ['a', 'b'],
};

/** A tool that answers how many entries its input has, so the result stays small. */
function counting(slug: string, inputSchema: z.ZodType | JSONSchema) {
  return defineTool({
    slug,
    description: 'Counts',
    inputSchema: inputSchema as JSONSchema,
    execute: async (input: Record<string, unknown>) => ({ size: JSON.stringify(input).length }),
  });
}

/** Each shape of the class, as a zod tool and as a JSON Schema tool, with a megabyte of good and bad arguments. */
const cases: {
  name: string;
  zod?: z.ZodType;
  json?: JSONSchema;
  arguments: (good: boolean) => unknown;
  /** The error for invalid arguments, when not a list of more issues than are shown. */
  error?: RegExp;
}[] = [
  {
    name: 'an array of objects',
    zod: z.object({ items: z.array(item) }),
    json: { type: 'object', properties: { items: { type: 'array', items: itemJson } }, required: ['items'] },
    arguments: (good) => ({ items: many(good) }),
  },
  {
    name: 'a record of objects',
    zod: z.object({ byId: z.record(z.string(), item) }),
    json: {
      type: 'object',
      properties: { byId: { type: 'object', additionalProperties: itemJson } },
      required: ['byId'],
    },
    arguments: (good) => ({
      byId: Object.fromEntries(many(good).map((entry, index) => [`id${index}`, entry])),
    }),
  },
  {
    name: 'nested objects around an optional array',
    zod: z.object({
      outer: z.object({ inner: z.object({ rows: z.array(item).optional() }), note: z.string() }),
    }),
    json: {
      type: 'object',
      properties: {
        outer: {
          type: 'object',
          properties: {
            inner: { type: 'object', properties: { rows: { type: 'array', items: itemJson } } },
            note: { type: 'string' },
          },
          required: ['inner', 'note'],
        },
      },
      required: ['outer'],
    },
    arguments: (good) => ({ outer: { inner: { rows: many(good) }, note: 'n' } }),
  },
  {
    name: 'an array of arrays',
    zod: z.object({ grid: z.array(z.array(item)) }),
    json: {
      type: 'object',
      properties: { grid: { type: 'array', items: { type: 'array', items: itemJson } } },
      required: ['grid'],
    },
    arguments: (good) => {
      const all = many(good);
      return {
        grid: Array.from({ length: 4 }, (_, index) =>
          all.slice(index * (all.length / 4), (index + 1) * (all.length / 4)),
        ),
      };
    },
  },
  // zod shapes once validated in one call of zod: 110–240 ms of CPU for a megabyte of invalid items
  {
    name: 'an array with length checks',
    zod: z.object({ items: z.array(item).min(1).max(1e6) }),
    arguments: (good) => ({ items: dense(good) }),
  },
  {
    name: 'a discriminated union around a transformed array',
    zod: z.object({
      op: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('add'), items: z.array(item).transform((list) => list.slice()) }),
        z.object({ kind: z.literal('remove'), ids: z.array(z.string()) }),
      ]),
    }),
    arguments: (good) => ({ op: { kind: 'add', items: dense(good) } }),
  },
  // discriminated unions once validated in one call of zod when their option is found by an absent
  // discriminator (an option's is optional: 104-110 ms of CPU for a megabyte of invalid items), or
  // when they fall back to trying each option (`unionFallback`: 98-158 ms, naming one or none)
  {
    name: 'a discriminated union whose option is found by an absent discriminator',
    zod: z.object({
      op: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('add').optional(), items: z.array(item) }),
        z.object({ kind: z.literal('remove'), ids: z.array(z.string()) }),
      ]),
    }),
    arguments: (good) => ({ op: { items: dense(good) } }),
  },
  ...(['add', 'other'] as const).map((kind) => ({
    name: `a discriminated union falling back to each option, its discriminator naming ${kind === 'add' ? 'one' : 'none'}`,
    zod: z.object({
      op: z.discriminatedUnion(
        'kind',
        [
          z.object({ kind: z.literal('add'), items: z.array(item) }),
          z.object({ kind: z.literal('remove'), ids: z.array(z.string()) }),
        ],
        { unionFallback: true },
      ),
    }),
    arguments: (good: boolean) => ({ op: { kind: good ? 'add' : kind, items: dense(good) } }),
    // before: "op: Invalid input"
    error:
      kind === 'add'
        ? undefined
        : /^Invalid arguments for TURNS_\w+: op\.kind: unknown value "other"; use one of add, remove$/,
  })),
  {
    name: 'a record of enum keys',
    zod: z.object({ byKind: z.record(z.enum(['a', 'b']), z.array(item)) }),
    arguments: (good) => {
      const all = dense(good);
      return { byKind: { a: all.slice(0, all.length >> 1), b: all.slice(all.length >> 1) } };
    },
  },
  // zod shapes once validated in one call of zod for the `continue` of their parts' issues, which
  // decides a union's answer and whether a refinement runs: 70–125 ms of CPU for a megabyte of
  // invalid items
  {
    name: 'a union of an array and a string',
    zod: z.object({ items: z.union([z.array(item), z.string()]) }),
    arguments: (good) => ({ items: dense(good) }),
    // before: "items: Invalid input"
    error: /^Invalid arguments for TURNS_\w+: items\[0\]\.a: is required: a string$/,
  },
  {
    name: 'a union of objects, one failing without ending the parse',
    zod: z.object({
      op: z.union([z.object({ tags: z.array(z.string().min(6)) }), z.object({ ids: z.array(z.int()) })]),
    }),
    arguments: (good) => ({ op: { tags: words(good) } }),
  },
  {
    name: 'a refinement over an object of an array',
    zod: z.object({ items: z.array(item) }).refine((input) => input.items.length > 0, 'no items'),
    arguments: (good) => ({ items: dense(good) }),
  },
  {
    name: 'a superRefine over an array, run whatever its items',
    zod: z.object({
      tags: z.array(z.string().min(6)).superRefine(
        (tags, context) => {
          if (tags.length % 2 === 1) context.addIssue({ code: 'custom', message: 'odd' });
        },
        { when: () => true },
      ),
    }),
    arguments: (good) => ({ tags: words(good) }),
  },
  // shapes the sliced check of a JSON Schema does not cut: such a part is checked whole in the
  // validation thread; before, in one call of 70–100 ms of CPU on the main thread
  {
    name: 'a record with checked names',
    json: {
      type: 'object',
      properties: {
        byId: { type: 'object', propertyNames: { pattern: '^id' }, additionalProperties: itemJson },
      },
      required: ['byId'],
    },
    arguments: (good) => ({
      byId: Object.fromEntries(many(good).map((entry, index) => [`id${index}`, entry])),
    }),
  },
  {
    name: 'an anyOf around an array with minItems, behind a $ref, in an allOf',
    json: {
      type: 'object',
      allOf: [{ type: 'object', properties: { items: { $ref: '#/$defs/items' } } }, { required: ['items'] }],
      $defs: {
        items: { anyOf: [{ type: 'array', items: itemJson, minItems: 1 }, { type: 'string' }] },
      },
    },
    arguments: (good) => ({ items: many(good) }),
  },
];

/** About a megabyte of items: `{ a: 'abcdef', b: 12345 }`, or `{ a: 1, b: 'x' }` (two issues each). */
function many(good: boolean): unknown[] {
  const one = good ? { a: 'abcdef', b: 12345 } : { a: 1, b: 'x' };
  const count = Math.floor(MB / JSON.stringify(one).length);
  return Array.from({ length: count - (count % 4) }, () => ({ ...one }));
}

/** About a megabyte of strings of 6 characters or more, or of 2 (an issue each under `.min(6)`). */
function words(good: boolean): string[] {
  return Array.from({ length: MB / 8 }, (_, index) => (good ? `w${index}`.padEnd(6, 'x') : 'ab'));
}

/** {@link many}, or as many wrong items as a megabyte holds: `{}` (two issues each, 700,000 in all). */
function dense(good: boolean): unknown[] {
  return good ? many(true) : Array.from({ length: MB / 3 }, () => ({}));
}

const toolkit = defineToolkit({
  slug: 'turns',
  description: 'Large arguments',
  tools: cases.flatMap((entry, index) => [
    ...(entry.zod ? [counting(`TURNS_ZOD_${index}`, entry.zod)] : []),
    ...(entry.json ? [counting(`TURNS_JSON_${index}`, entry.json)] : []),
  ]),
});
const mux = new ToolMux({ toolkits: [toolkit], store: ':memory:', logger: quiet });
afterAll(() => mux.close());
const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });

describe('validating a megabyte of arguments holds the event loop a slice at a time', () => {
  for (const [index, entry] of cases.entries()) {
    for (const kind of ['zod', 'JSON Schema'] as const) {
      if (!entry[kind === 'zod' ? 'zod' : 'json']) continue;
      for (const good of [true, false]) {
        it(`${entry.name}, ${good ? 'valid' : 'invalid'}, ${kind} tool`, async () => {
          const slug = `TURNS_${kind === 'zod' ? 'ZOD' : 'JSON'}_${index}`;
          const args = entry.arguments(good);
          const measured = await longestTurn(() => session.execute(slug, args), BOUND_MS);
          const result = measured.value;
          expect(result.successful).toBe(good);
          if (good) expect(result.data).toEqual({ size: JSON.stringify(args).length });
          else
            expect(result.error).toMatch(
              entry.error ?? /^Invalid arguments for TURNS_\w+: .*; and \d+ more$/,
            );
          expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(BOUND_MS);
        });
      }
    }
  }
});

/**
 * `enum` and `uniqueItems` are one pass over the value (see `useLinearEquality`). Ajv compared a
 * value with each of an `enum`'s members, and every pair of items under `uniqueItems` (deeply,
 * unless the items were typed as scalars): arguments small enough to be checked in one call held
 * the loop for the product, and such schemas went to the validation thread, where larger arguments
 * overran the check's budget and valid ones were refused (300 KB against an enum of 2,000 objects:
 * 2 s; 240 KB of objects under `uniqueItems`: 3 s).
 */
describe('enum and uniqueItems are checked in one pass over the value, without holding the event loop', () => {
  const enumValues = Array.from({ length: 5_000 }, (_, index) => `v${index}`);
  const objectEnum = Array.from({ length: 2_000 }, (_, index) => ({ kind: 'k', n: index, tags: ['a', 'b'] }));
  const costly = defineToolkit({
    slug: 'costly',
    description: 'Costly keywords',
    tools: [
      counting('COSTLY_ENUM', {
        type: 'object',
        properties: { rows: { type: 'array', items: { enum: enumValues } } },
      }),
      counting('COSTLY_OBJECT_ENUM', {
        type: 'object',
        properties: { rows: { type: 'array', items: { enum: objectEnum } } },
      }),
      counting('COSTLY_UNIQUE', {
        type: 'object',
        properties: { rows: { type: 'array', uniqueItems: true } },
      }),
    ],
  });
  const costlyMux = new ToolMux({ toolkits: [costly], store: ':memory:', logger: quiet });
  afterAll(() => costlyMux.close());
  const cases: [string, string, (good: boolean) => unknown[]][] = [
    [
      '4,000 strings against an enum of 5,000',
      'COSTLY_ENUM',
      (good) =>
        Array.from({ length: 4_000 }, (_, index) => (good ? `v${4_999 - (index % 10)}` : `w${index}`)),
    ],
    [
      '300 KB of objects against an enum of 2,000 objects',
      'COSTLY_OBJECT_ENUM',
      (good) =>
        Array.from({ length: 8_500 }, (_, index) => ({
          tags: ['a', 'b'],
          n: good || index < 8_499 ? 1_999 - (index % 10) : -1,
          kind: 'k',
        })),
    ],
    [
      '4,000 untyped strings under uniqueItems',
      'COSTLY_UNIQUE',
      (good) => Array.from({ length: 4_000 }, (_, index) => `${'x'.repeat(56)}${good ? index : index % 2}`),
    ],
    [
      '240 KB of objects under uniqueItems',
      'COSTLY_UNIQUE',
      // the second equal to the first (keys reordered): Ajv's loop from the end met it after all pairs
      (good) =>
        Array.from({ length: 11_000 }, (_, index) =>
          good || index !== 1 ? { id: index, tags: [index % 7] } : { tags: [0], id: 0 },
        ),
    ],
  ];
  for (const [name, slug, rows] of cases) {
    for (const good of [true, false]) {
      it(`${name}, ${good ? 'valid' : 'invalid'}`, async () => {
        const session = await costlyMux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
        // the schema compiled by a first call: what is measured is a check
        expect(await session.execute(slug, { rows: [] })).toMatchObject({ successful: true });
        const args = { rows: rows(good) };
        const measured = await longestTurn(() => session.execute(slug, args), BOUND_MS);
        expect(measured.value.successful, measured.value.error ?? '').toBe(good);
        if (!good) expect(measured.value.error).toMatch(/^Invalid arguments for COSTLY_\w+: rows/);
        expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(BOUND_MS);
      });
    }
  }
});
