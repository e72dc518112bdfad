import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../catalog/define.js';
import type { StandardResult, StandardSchemaV1 } from '../catalog/standard-schema.js';
import type { ValidationResult } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { ZOD_CHUNK_ENTRIES, zodValidationSteps } from './sliced-zod-validation.js';
import { MAX_LISTED_ISSUES, MORE_ISSUES, slicedValidatorOf } from './validate.js';

/**
 * A zod tool's large arguments are validated a part at a time, and the answer is zod's own for the
 * whole value: the same success or failure, the same output handed to the handler (transforms,
 * defaults, stripped or kept unknown keys, in the same key order), the same issues in the same
 * order (the first {@link MAX_LISTED_ISSUES}, then one that says there are more). Each case is
 * compared with the tool's `validate` (zod's one call, what a small call and `main` use) on values
 * of several thousand entries, so that they are split.
 */

/** A slice that is always due: the validation yields between each of its parts, counted. */
let pauses = 0;
const everyPart = {
  due: () => true,
  pause: () => {
    pauses++;
    return Promise.resolve();
  },
};

function toolOf(inputSchema: z.ZodObject) {
  return defineTool({ slug: 'SLICED_TOOL', description: 'Sliced', inputSchema, execute: () => null });
}

async function bothWays(schema: z.ZodObject, input: unknown) {
  const tool = toolOf(schema);
  const whole = tool.validate(structuredClone(input));
  pauses = 0;
  const sliced = await slicedValidatorOf(tool.validate)!(structuredClone(input), everyPart);
  return { whole, sliced, parts: pauses };
}

function issuesOf(result: ValidationResult) {
  return result.success ? [] : result.issues;
}

/** What the sliced validation must answer, given zod's: its issues cut at the listed bound. */
function expectedOf(whole: ValidationResult): ValidationResult {
  if (whole.success || whole.issues.length <= MAX_LISTED_ISSUES) return whole;
  return {
    success: false,
    issues: [...whole.issues.slice(0, MAX_LISTED_ISSUES), { path: '(root)', message: MORE_ISSUES }],
  };
}

/**
 * The sliced validation's own answer (issues with their paths as keys and zod's codes), and zod's
 * whole answer in the same terms: its first {@link MAX_LISTED_ISSUES} issues, whether there were
 * more, its output.
 */
function bothAnswers(schema: z.ZodType, input: unknown) {
  const steps = zodValidationSteps(schema as StandardSchemaV1, structuredClone(input), MAX_LISTED_ISSUES);
  let next = steps.next();
  while (!next.done) next = steps.next();
  const result = schema['~standard'].validate(structuredClone(input)) as StandardResult<unknown>;
  const issues = (result.issues ?? []).map((issue) => ({
    path: (issue.path ?? []).map((segment) => (typeof segment === 'object' ? segment.key : segment)),
    message: issue.message,
    code: (issue as { code?: string }).code,
  }));
  const cut = issues.length > MAX_LISTED_ISSUES;
  issues.length = Math.min(issues.length, MAX_LISTED_ISSUES);
  const whole =
    issues.length > 0 ? { issues, cut } : { issues, cut, value: result.issues ? undefined : result.value };
  return { sliced: next.value, whole };
}

const N = 3 * ZOD_CHUNK_ENTRIES;
const range = (count: number) => Array.from({ length: count }, (_, index) => index);

interface Tree {
  name: string;
  size: number;
  children: Tree[];
}
/** A recursive schema: a tree whose nodes' `size` defaults to 1. */
const treeSchema: z.ZodType<Tree> = z.lazy(() =>
  z.object({ name: z.string(), size: z.number().default(1), children: z.array(treeSchema) }),
);

const cases: { name: string; schema: z.ZodObject; input: (bad: (index: number) => boolean) => unknown }[] = [
  {
    name: 'array items with transforms, defaults and optional fields',
    schema: z.object({
      first: z.string(),
      items: z.array(
        z.object({
          a: z.string().transform((text) => text.toUpperCase()),
          b: z.number().default(7),
          c: z.string().optional(),
        }),
      ),
      last: z.number().default(3),
    }),
    input: (bad) => ({
      items: range(N).map((index) =>
        bad(index)
          ? { a: index, b: 'x' }
          : index % 3
            ? { a: `x${index}` }
            : { a: 'y', b: index, c: 'z', d: 1 },
      ),
      first: 'f',
    }),
  },
  {
    name: 'strict objects with unknown keys, at the top and in the items',
    schema: z.strictObject({ items: z.array(z.strictObject({ a: z.string() })), tag: z.string() }),
    input: (bad) => ({
      ...(bad(5) ? { zzz: 1 } : {}),
      items: range(N).map((index) => (bad(index) ? { a: 'a', extra: index } : { a: 'a' })),
      tag: bad(1) ? 5 : 't',
    }),
  },
  {
    name: 'refined items',
    schema: z.object({ rows: z.array(z.number().refine((value) => value % 2 === 0, 'must be even')) }),
    input: (bad) => ({ rows: range(N).map((index) => (bad(index) ? 2 * index + 1 : 2 * index)) }),
  },
  {
    name: 'a record with checked keys and a catchall beside it',
    schema: z
      .object({ byKey: z.record(z.string().regex(/^k\d+$/), z.object({ v: z.number() })) })
      .catchall(z.number()),
    input: (bad) => ({
      // with an own `__proto__` key (as JSON.parse makes), which zod leaves out
      byKey: Object.fromEntries([
        ...range(N).map((index) => [
          bad(index) && index % 2 ? `bad${index}` : `k${index}`,
          { v: bad(index) ? 'v' : index },
        ]),
        ['__proto__', { v: 1 }],
      ]),
      more: bad(2) ? 'x' : 2,
    }),
  },
  {
    name: 'nested arrays under a nullable, with large inner arrays',
    schema: z.object({
      outer: z.object({ grid: z.array(z.array(z.int())).nullable(), note: z.string().default('n') }),
    }),
    input: (bad) => ({
      outer: {
        grid: [
          range(N),
          ...range(N / 8).map((row) => [row, row + 1]),
          range(N).map((index) => (bad(index) ? 0.5 : index)),
        ],
      },
    }),
  },
  {
    name: 'a refinement over the whole object',
    schema: z
      .object({ items: z.array(z.number()) })
      .refine((value) => value.items.length < N + 1, 'too many items'),
    input: (bad) => ({ items: range(N).map((index) => (bad(index) ? 'n' : index)) }),
  },
  {
    name: 'an array with length checks',
    schema: z.object({
      items: z
        .array(z.string())
        .min(1)
        .max(2 * N),
    }),
    input: (bad) => ({ items: range(N).map((index) => (bad(index) ? index : `s${index}`)) }),
  },
  {
    name: 'a discriminated union of objects with large arrays',
    schema: z.object({
      op: z.discriminatedUnion('kind', [
        z.object({
          kind: z.literal('add'),
          items: z.array(z.object({ a: z.string(), n: z.number().default(1) })),
        }),
        z.object({ kind: z.enum(['remove', 'drop']), ids: z.array(z.string()), note: z.string().optional() }),
      ]),
    }),
    input: (bad) => ({
      op: bad(3)
        ? { kind: 'drop', ids: range(N).map((index) => (bad(index) ? index : `i${index}`)), note: 5 }
        : { kind: 'add', items: range(N).map((index) => (bad(index) ? { a: index } : { a: `a${index}` })) },
    }),
  },
  {
    name: 'discriminated unions found by an absent discriminator, or falling back to each option',
    schema: z.object({
      // no `kind`: the option whose `kind` is optional
      found: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('add').optional(), items: z.array(z.object({ a: z.string() })) }),
        z.object({ kind: z.literal('remove'), ids: z.array(z.string()) }),
      ]),
      // a `kind` naming no option: each option tried, as a union does
      fallback: z.discriminatedUnion(
        'kind',
        [
          z.object({ kind: z.literal('sum'), values: z.array(z.number()) }),
          z.object({ kind: z.literal('ids'), ids: z.array(z.string().min(2)) }),
        ],
        { unionFallback: true },
      ),
    }),
    input: (bad) => ({
      found: { items: range(N).map((index) => ({ a: bad(index) ? index : `a${index}` })) },
      fallback: {
        kind: bad(5) ? 'count' : 'ids',
        ids: range(N).map((index) => (bad(index) ? 'i' : `i${index}`)),
      },
    }),
  },
  {
    name: 'transforms and pipes over large values',
    schema: z.object({
      sum: z.array(z.number()).transform((list) => list.reduce((total, each) => total + each, 0)),
      words: z
        .array(z.string().transform((text) => text.trim()))
        .pipe(z.array(z.string().min(1)))
        .transform((list) => list.join(' ')),
      rows: z.preprocess(
        (value) => (Array.isArray(value) ? value.map((row) => ({ ...row, seen: true })) : value),
        z.array(z.object({ id: z.int(), seen: z.boolean() })),
      ),
    }),
    input: (bad) => ({
      sum: range(N).map((index) => (bad(index) ? `${index}` : index)),
      words: range(N).map((index) => (bad(index) && index % 3 ? '  ' : ` w${index} `)),
      rows: range(N).map((index) => ({ id: bad(index) ? 0.5 : index })),
    }),
  },
  {
    name: 'a strict object in a pipe (its unknown keys go on to the next schema: then zod whole)',
    schema: z.object({
      box: z
        .strictObject({ items: z.array(z.number()) })
        .pipe(z.object({ items: z.array(z.number().nonnegative()) }))
        .transform((box) => ({ count: box.items.length })),
    }),
    input: (bad) => ({
      box: { items: range(N).map((index) => (bad(index) ? -1 : index)), ...(bad(5) ? { extra: 1 } : {}) },
    }),
  },
  {
    name: 'records of enum keys around large arrays, strict and loose',
    schema: z.object({
      byKind: z.record(z.enum(['b', 'a', 'c']), z.array(z.object({ v: z.number().default(0) }))),
      loose: z.looseRecord(z.literal(['x', 'y']), z.array(z.string()).optional()),
    }),
    input: (bad) => ({
      byKind: {
        a: range(N).map((index) => (bad(index) ? { v: 'v' } : {})),
        ...(bad(5) ? { d: [] } : { b: range(N / 2).map((index) => ({ v: index })) }),
        c: [],
      },
      loose: { y: range(N).map((index) => (bad(index) ? index : `s${index}`)), z: 1 },
    }),
  },
  {
    name: 'recursive schemas through z.lazy (a tree with large levels), and a lazy array',
    schema: z.object({
      tree: treeSchema,
      rows: z.lazy(() => z.array(z.object({ v: z.number().default(0) })).optional()),
    }),
    input: (bad) => ({
      tree: {
        name: 'root',
        children: range(N).map((index) => ({
          name: bad(index) ? index : `n${index}`,
          children:
            index % 500 === 0 ? range(N / 2).map((inner) => ({ name: `m${inner}`, children: [] })) : [],
        })),
      },
      rows: range(N).map((index) => (bad(index) ? { v: 'v' } : {})),
    }),
  },
  {
    name: 'a passthrough object of wide records',
    schema: z.looseObject({
      a: z.record(z.string(), z.array(z.boolean())),
      b: z.record(z.string(), z.string()),
    }),
    input: (bad) => ({
      a: Object.fromEntries(range(N / 4).map((index) => [`a${index}`, [true, false, bad(index) ? 1 : true]])),
      b: Object.fromEntries(range(N).map((index) => [`b${index}`, bad(index) ? null : 'x'])),
      kept: { any: 'thing' },
    }),
  },
];

describe('a zod tool validates large arguments a part at a time, with zod’s own answer', () => {
  for (const { name, schema, input } of cases) {
    for (const [label, bad] of [
      ['valid', () => false],
      ['a few invalid entries', (index: number) => index % 997 === 5],
      ['more issues than are listed', (index: number) => index % 2 === 1],
    ] as const) {
      it(`${name}: ${label}`, async () => {
        const { whole, sliced, parts } = await bothWays(schema, input(bad));
        expect(parts).toBeGreaterThan(label === 'valid' ? 3 : 1);
        if (label === 'valid') expect(whole.success).toBe(true);
        else expect(whole.success).toBe(false);
        const expected = expectedOf(whole);
        expect(sliced).toEqual(expected);
        // the same output, key order included
        if (sliced.success && expected.success)
          expect(JSON.stringify(sliced.value)).toBe(JSON.stringify(expected.value));
      });
    }
  }

  it('answers what zod answers for arrays with length checks (.min, .max, .length, .nonempty, abort), whatever their items', async () => {
    // items whose issues may end the parse (an inner array past its maximum, a refinement that
    // aborts), which skips the length checks; lengths around each bound, and issues or none
    const itemSchemas = [
      z.object({ a: z.string(), n: z.number().default(1) }),
      z.object({ tags: z.array(z.string()).max(2) }),
      z.string().refine((text) => !text.startsWith('!'), { message: 'no bang', abort: true }),
      z.string().transform((text) => text.length),
    ];
    const goodItem = [{ a: 'a' }, { tags: ['t'] }, 's', 'text'];
    const badItems = [
      [{ a: 1 }, { n: 'x' }],
      [{ tags: ['a', 'b', 'c'] }, { tags: [1] }],
      ['!s', 5],
      [5, null],
    ];
    const check = fc.oneof(
      fc.record({
        kind: fc.constantFrom('min', 'max', 'length'),
        delta: fc.integer({ min: -2, max: 2 }),
        abort: fc.boolean(),
      }),
      fc.constant({ kind: 'nonempty' as const, delta: 0, abort: false }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: itemSchemas.length - 1 }),
        fc.array(check, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 1 }).map((extra) => N + extra * ZOD_CHUNK_ENTRIES),
        fc.array(fc.tuple(fc.nat(), fc.nat(1)), { maxLength: 4 }),
        async (kind, checks, count, wrong) => {
          let items: z.ZodArray<z.ZodType> = z.array(itemSchemas[kind]!);
          for (const { kind: which, delta, abort } of checks) {
            if (which === 'nonempty') items = items.nonempty() as never;
            else items = items[which](count + delta, { abort }) as never;
          }
          const list: unknown[] = range(count).map(() => structuredClone(goodItem[kind]));
          for (const [at, which] of wrong) list[at % count] = badItems[kind]![which];
          const { whole, sliced } = await bothWays(z.object({ items }), { items: list });
          expect(sliced).toEqual(expectedOf(whole));
          if (sliced.success && whole.success)
            expect(JSON.stringify(sliced.value)).toBe(JSON.stringify(whole.value));
        },
      ),
      { numRuns: 150, seed: 27 },
    );
  });

  it('answers what zod answers for discriminated unions, pipes and records of enum keys around large values, valid or not', async () => {
    const row = z.strictObject({ id: z.int(), tags: z.array(z.string()).max(2).optional() });
    const schema = z.object({
      op: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('add'), rows: z.array(row).min(2) }),
        z.object({ kind: z.literal('sum'), values: z.array(z.number()).transform((list) => list.length) }),
        z.object({
          kind: z.literal('ids'),
          ids: z.preprocess((ids) => ids, z.array(z.string()).pipe(z.array(z.string().min(2)))),
        }),
        z.object({ kind: z.literal('map'), byKind: z.record(z.enum(['b', 'a']), z.array(row)) }),
      ]),
    });
    const rowOf = [
      (index: number) => ({ id: index }),
      (index: number) => ({ id: index, tags: ['a'] }),
      () => ({ id: 'x' }),
      (index: number) => ({ id: index, tags: ['a', 'b', 'c'] }),
      (index: number) => ({ id: index, extra: true }),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('add', 'sum', 'ids', 'map', 'other', undefined),
        fc.integer({ min: N - 2, max: N + 2 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(4)), { maxLength: 5 }),
        async (kind, count, wrong) => {
          const at = new Map(wrong.map(([index, which]) => [index % count, which]));
          const op: Record<string, unknown> = kind === undefined ? {} : { kind };
          if (kind === 'add' || kind === 'other')
            op.rows = range(count).map((index) => rowOf[at.get(index) ?? 0]!(index));
          if (kind === 'map') {
            const rows = range(count).map((index) => rowOf[at.get(index) ?? 0]!(index));
            op.byKind = at.has(1)
              ? { a: rows, c: [] }
              : { a: rows.slice(0, count >> 1), b: rows.slice(count >> 1) };
          }
          if (kind === 'sum') op.values = range(count).map((index) => (at.has(index) ? 'n' : index));
          if (kind === 'ids')
            op.ids = range(count).map((index) =>
              at.has(index) ? ['x', 1][at.get(index)! % 2] : `i${index}`,
            );
          const { whole, sliced } = await bothWays(schema, { op });
          expect(sliced).toEqual(expectedOf(whole));
          if (sliced.success && whole.success)
            expect(JSON.stringify(sliced.value)).toBe(JSON.stringify(whole.value));
        },
      ),
      { numRuns: 150, seed: 27 },
    );
  });

  it('answers what zod answers for discriminated unions around large values, whatever their discriminator names', async () => {
    const item = z.object({ a: z.string(), n: z.number().default(1) });
    // each option's discriminator: a literal, an optional one (an absent `kind` names it, or none if
    // two are optional), an enum, a nested discriminated union's; items whose issues end the parse
    // (a wrong type) or go on (a string too short, a refinement)
    const options = [
      z.object({ kind: z.literal('a'), items: z.array(item) }),
      z.object({ kind: z.literal('b').optional(), items: z.array(z.string().min(2)) }),
      z.object({
        kind: z.enum(['c', 'd']),
        items: z.array(z.number()).refine((list) => list.length % 2 === 0, 'an odd count'),
      }),
      z.discriminatedUnion('sub', [
        z.object({ kind: z.literal('e'), sub: z.literal('x'), items: z.array(item) }),
        z.object({ kind: z.literal('e'), sub: z.literal('y'), items: z.array(z.string()) }),
      ]),
      z.object({ kind: z.literal('f').optional(), items: z.array(z.union([z.number(), z.string().min(3)])) }),
    ];
    const pool = [{ a: 'x' }, { a: 1 }, 'ab', 'a', 'abcd', 5, 0.5, null];
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(range(options.length), { minLength: 1 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'other', undefined, 'not an object'),
        fc.constantFrom('x', 'y', undefined),
        fc.nat(pool.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(pool.length - 1)), { maxLength: 4 }),
        async (chosen, unionFallback, refined, kind, sub, usual, wrong) => {
          let union: z.ZodType = z.discriminatedUnion(
            'kind',
            chosen.map((index) => options[index]!) as never,
            { unionFallback },
          );
          if (refined) union = union.refine((value) => JSON.stringify(value).length % 2 === 0, 'odd');
          const count = ZOD_CHUNK_ENTRIES + 100;
          const items = range(count).map(() => structuredClone(pool[usual]));
          for (const [at, which] of wrong) items[at % count] = structuredClone(pool[which]);
          const op =
            kind === 'not an object'
              ? items
              : { ...(kind === undefined ? {} : { kind }), ...(sub === undefined ? {} : { sub }), items };
          const top = z.object({ op: union });
          const { whole, sliced } = await bothWays(top, { op });
          expect(sliced).toEqual(expectedOf(whole));
          if (sliced.success && whole.success)
            expect(JSON.stringify(sliced.value)).toBe(JSON.stringify(whole.value));
          const answers = bothAnswers(top, { op });
          expect(answers.sliced).toEqual(answers.whole);
          expect(JSON.stringify(answers.sliced.value)).toBe(JSON.stringify(answers.whole.value));
        },
      ),
      {
        numRuns: 200,
        seed: 31,
        examples: [
          // no `kind`, which two options take: each tried, as a union (not `z.xor`) does; the first
          // that passes ('abcd' passes both), or the one whose issues go on ('a' is too short)
          [[1, 4], true, false, undefined, undefined, 4, []],
          [[1, 4], true, false, undefined, undefined, 3, []],
          [[1, 4], true, true, undefined, undefined, 3, [[9, 5]]],
        ],
      },
    );
  }, 60_000);

  it('answers what zod answers for unions and refinements around large values, whatever their options’ issues', async () => {
    // items whose issues end the parse (a wrong type, a refinement that aborts) or do not (a string
    // too short, a refinement that goes on); a nested union; a transform
    const elements = [
      z.object({ a: z.string(), n: z.number().default(1) }),
      z.string().min(2),
      z.number().refine((value) => value >= 0, { message: 'negative', abort: true }),
      z.number().refine((value) => value >= 0, 'negative, going on'),
      z.union([z.string(), z.number().int()]),
      z.string().transform((text) => text.length),
      z.string().max(1),
    ];
    const pool = [{ a: 'x' }, { a: 1 }, 'ab', 'a', 5, -1, 0.5, null];
    // what a refinement tells of its value (its output, so outputs with issues are compared too)
    const odd = (value: unknown) => JSON.stringify(value ?? null).length % 3 === 0;
    const whens = [undefined, (payload: { issues: unknown[] }) => payload.issues.length === 0, () => true];
    type Spec =
      | { kind: 'array'; element: number; min: boolean }
      | { kind: 'string' }
      | { kind: 'object'; inner: Spec; strict: boolean }
      | { kind: 'record'; inner: Spec }
      | { kind: 'wideRecord'; element: number }
      | { kind: 'transform'; inner: Spec }
      | { kind: 'refine' | 'superRefine'; inner: Spec; abort: boolean; when: number }
      | { kind: 'union'; options: Spec[]; xor: boolean };
    const soft: Spec = { kind: 'array', element: 1, min: false };
    const { spec } = fc.letrec<{ spec: Spec }>((tie) => ({
      spec: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.record({
          kind: fc.constant('array' as const),
          element: fc.nat(elements.length - 1),
          min: fc.boolean(),
        }),
        fc.constant({ kind: 'string' as const }),
        fc.record({ kind: fc.constant('object' as const), inner: tie('spec'), strict: fc.boolean() }),
        fc.record({ kind: fc.constant('record' as const), inner: tie('spec') }),
        fc.record({ kind: fc.constant('wideRecord' as const), element: fc.nat(elements.length - 1) }),
        fc.record({ kind: fc.constant('transform' as const), inner: tie('spec') }),
        fc.record({
          kind: fc.constantFrom('refine' as const, 'superRefine' as const),
          inner: tie('spec'),
          abort: fc.boolean(),
          when: fc.nat(whens.length - 1),
        }),
        fc.record({
          kind: fc.constant('union' as const),
          options: fc.array(tie('spec'), { minLength: 2, maxLength: 3 }),
          xor: fc.boolean(),
        }),
      ),
    }));
    const schemaOf = (spec: Spec, count: number): z.ZodType => {
      switch (spec.kind) {
        case 'array': {
          // the array's error map words its checks' issues
          const list = z.array(elements[spec.element]!, {
            error: (issue) => ((issue as { code: string }).code === 'too_small' ? 'too few' : undefined),
          });
          return spec.min ? list.min(count + 1) : list;
        }
        case 'string':
          return z.string();
        case 'object': {
          const shape = { items: schemaOf(spec.inner, count) };
          return spec.strict ? z.strictObject(shape) : z.object(shape);
        }
        case 'record':
          return z.record(z.string(), schemaOf(spec.inner, count));
        case 'wideRecord':
          return z.record(z.string(), elements[spec.element]!);
        case 'transform':
          // a pipe: its input's issues end the parse, whatever their `continue`
          return schemaOf(spec.inner, count).transform((value) => [value]);
        case 'refine':
          return schemaOf(spec.inner, count).refine((value) => !odd(value), {
            message: 'odd',
            abort: spec.abort,
            when: whens[spec.when],
          });
        case 'superRefine':
          return schemaOf(spec.inner, count).superRefine(
            (value, context) => {
              // its message tells the output it saw
              const length = JSON.stringify(value ?? null).length;
              if (length % 3 !== 1) {
                context.addIssue({
                  code: 'custom',
                  message: `saw ${length}`,
                  path: [0],
                  continue: !spec.abort,
                });
              }
            },
            { when: whens[spec.when] },
          );
        case 'union': {
          const options = spec.options.map((option) => schemaOf(option, count)) as [z.ZodType, z.ZodType];
          // read by an error map: each option's first issue (an option's list is cut past the
          // listed issues)
          const error = (issue: { errors?: { message: string }[][] }) =>
            `none of ${issue.errors?.map((each) => each[0]?.message).join(', ')}`;
          return spec.xor ? z.xor(options, { error }) : z.union(options, { error });
        }
      }
    };
    // a value the spec's arrays and objects may take: its list of items somewhere inside
    const argumentOf = (spec: Spec, list: unknown[]): unknown => {
      if (spec.kind === 'object' || spec.kind === 'record') return { items: argumentOf(spec.inner, list) };
      if (spec.kind === 'refine' || spec.kind === 'superRefine' || spec.kind === 'transform')
        return argumentOf(spec.inner, list);
      // the items under keys of their own (a record of many keys)
      if (spec.kind === 'wideRecord')
        return Object.fromEntries(list.map((item, index) => [`k${index}`, item]));
      if (spec.kind === 'union') return argumentOf(spec.options[list.length % spec.options.length]!, list);
      return list;
    };
    await fc.assert(
      fc.asyncProperty(
        spec,
        fc.integer({ min: 0, max: 1 }),
        fc.nat(pool.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(pool.length - 1)), { maxLength: 4 }),
        fc.boolean(),
        async (spec, extra, usual, wrong, inArray) => {
          const count = ZOD_CHUNK_ENTRIES + 100 + extra;
          const listOf = () => {
            const list = range(count).map(() => structuredClone(pool[usual]));
            for (const [at, which] of wrong) list[at % count] = structuredClone(pool[which]);
            return list;
          };
          const schema = schemaOf(spec, count);
          // a union inside an array: each item large, split on its own
          const [top, input] = inArray
            ? [
                z.object({ v: z.array(schema) }),
                { v: [argumentOf(spec, listOf()), argumentOf(spec, listOf().reverse())] },
              ]
            : [z.object({ v: schema }), { v: argumentOf(spec, listOf()) }];
          // a tool's answer (paths and messages), then the validation's own (keys and codes too)
          const { whole, sliced } = await bothWays(top, input);
          expect(sliced).toEqual(expectedOf(whole));
          if (sliced.success && whole.success)
            expect(JSON.stringify(sliced.value)).toBe(JSON.stringify(whole.value));
          const answers = bothAnswers(top, input);
          expect(answers.sliced).toEqual(answers.whole);
          expect(JSON.stringify(answers.sliced.value)).toBe(JSON.stringify(answers.whole.value));
        },
      ),
      {
        numRuns: 300,
        seed: 29,
        examples: [
          // two options whose issues go on ('a' is too short for both): invalid_union
          [
            {
              kind: 'union',
              options: [soft, { kind: 'refine', inner: soft, abort: false, when: 0 }],
              xor: false,
            },
            0,
            3,
            [],
            false,
          ],
          // the same, one of them behind a transform (its failure ends the parse): the other's issues
          [
            { kind: 'union', options: [{ kind: 'transform', inner: soft }, soft], xor: false },
            0,
            3,
            [],
            true,
          ],
          // an option past the listed issues ('a' too short) with one that ends the parse (5) after them
          [
            { kind: 'union', options: [soft, { kind: 'string' }], xor: false },
            0,
            3,
            [[ZOD_CHUNK_ENTRIES + 50, 4]],
            false,
          ],
          // refinements run on a record's output with issues that go on
          [
            { kind: 'superRefine', inner: { kind: 'wideRecord', element: 1 }, abort: false, when: 0 },
            0,
            2,
            [[7, 3]],
            false,
          ],
          [
            { kind: 'refine', inner: { kind: 'wideRecord', element: 1 }, abort: false, when: 2 },
            0,
            3,
            [],
            false,
          ],
          // a refinement that goes on after issues that do
          [
            {
              kind: 'superRefine',
              inner: { kind: 'object', inner: soft, strict: false },
              abort: false,
              when: 0,
            },
            1,
            3,
            [],
            false,
          ],
        ],
      },
    );
  }, 60_000);

  it(`lists ${MAX_LISTED_ISSUES} issues as they are, and says there are more only past them`, async () => {
    const schema = z.object({ items: z.array(z.number()) });
    for (const wrong of [MAX_LISTED_ISSUES - 1, MAX_LISTED_ISSUES, MAX_LISTED_ISSUES + 1]) {
      // the wrong items first, then valid ones past the parts where the bound is reached
      const items = range(N).map((index) => (index < wrong ? `n${index}` : index));
      const { whole, sliced } = await bothWays(schema, { items });
      expect(sliced).toEqual(expectedOf(whole));
      expect(issuesOf(sliced).at(-1)?.message === MORE_ISSUES).toBe(wrong > MAX_LISTED_ISSUES);
    }
  });

  it('lists the first issues in zod’s order when a large property’s are listed before a smaller one’s under a later key', async () => {
    // `small`'s issues (validated with the rest of the object, first) left room for only part of
    // `large`'s, listed before them: the rest of `large`'s went unlisted
    const schema = z.object({ large: z.array(z.number()), small: z.array(z.number()) });
    const input = {
      large: range(N).map((index) => (index % 10 === 0 ? 'n' : index)),
      small: range(MAX_LISTED_ISSUES - 50).map(() => 'n'),
    };
    const { whole, sliced } = await bothWays(schema, input);
    expect(sliced).toEqual(expectedOf(whole));
  });

  it('answers what zod answers for small arguments (validated in one call)', async () => {
    const schema = cases[0]!.schema;
    for (const input of [
      { first: 'f', items: [{ a: 'q' }] },
      { items: [{ a: 1 }] },
      {},
      { first: 1, items: 'x' },
    ]) {
      const { whole, sliced } = await bothWays(schema, input);
      expect(sliced).toEqual(whole);
    }
  });

  it('refuses an async refinement in a part as the whole validation does', async () => {
    const tool = toolOf(z.object({ items: z.array(z.string().refine(async () => true)) }));
    const input = { items: range(N).map(String) };
    expect(() => tool.validate(input)).toThrow(/Async input schemas are not supported/);
    const error = await slicedValidatorOf(tool.validate)!(input, everyPart).catch(
      (caught: unknown) => caught,
    );
    expect(ToolMuxError.isInstance(error) && error.code).toBe('TOOL_DEFINITION_INVALID');
    expect((error as Error).message).toMatch(/Async input schemas are not supported/);
  });
});
