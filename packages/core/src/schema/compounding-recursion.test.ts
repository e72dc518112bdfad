import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema } from '../catalog/types.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { ToolMux } from '../toolmux.js';
import { compoundsWithDepth } from './compounding-recursion.js';
import { compilesOffThread } from './validate.js';

/**
 * A small schema whose check costs more than linear in the value (two evaluations of the same part
 * of the value that both recurse below it: each level of nesting doubles the work) was checked on
 * the main thread, in one synchronous Ajv call: 20 levels of `[[…]]` held the event loop for 0.2–1 s,
 * 30 levels (60 bytes) for minutes, and every other user of the server waited. Such schemas are now
 * compiled and checked in the validation thread, whose CPU budget refuses the call.
 */

const ref = { $ref: '#/$defs/n' };

/** A tool schema whose property `tree` is `$defs.n`. */
function toolSchema(n: JSONSchema, defs: Record<string, JSONSchema> = {}): JSONSchema {
  return { type: 'object', properties: { tree: ref }, $defs: { ...defs, n } };
}

/** `[[[…]]]`, `depth` arrays deep. */
function nested(depth: number): unknown[] {
  let value: unknown[] = [];
  for (let level = 0; level < depth; level++) value = [value];
  return value;
}

describe('compoundsWithDepth', () => {
  it('finds each kind of keyword that evaluates one place of the value twice over recursion', () => {
    const array = (extra: JSONSchema = {}) => ({ type: 'array', items: ref, ...extra });
    const object = (extra: JSONSchema = {}) => ({ type: 'object', properties: { c: ref }, ...extra });
    const compounding: Record<string, JSONSchema> = {
      'anyOf, a variant failing after its items': { anyOf: [array({ maxItems: 0 }), array()] },
      'oneOf of two recursing variants': { oneOf: [array({ maxItems: 0 }), array({ minItems: 1 })] },
      'oneOf of a discriminated union recursing into the same key': {
        oneOf: [
          object({ properties: { op: { const: 'and' }, c: ref } }),
          object({ properties: { op: { const: 'or' }, c: ref } }),
        ],
      },
      'allOf of two recursing parts': { type: 'array', allOf: [{ items: ref }, { items: ref }] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
      'if and then': { type: 'array', if: { items: ref }, then: { items: ref } },
      'if and else': { type: 'array', if: { items: ref }, else: { items: ref } },
      'not beside items': array({ not: { items: ref, contains: { type: 'string' } } }),
      'contains beside items': array({ contains: ref }),
      'dependentSchemas beside properties': object({ dependentSchemas: { c: object() } }),
      'unevaluatedItems over a variant': {
        type: 'array',
        anyOf: [{ prefixItems: [ref] }],
        unevaluatedItems: ref,
      },
      'unevaluatedProperties over a variant': {
        type: 'object',
        anyOf: [{ properties: { c: ref } }],
        unevaluatedProperties: ref,
      },
      'patternProperties matching a property': object({ patternProperties: { '^c': ref } }),
      'allOf of the same $ref twice': { type: 'array', items: { allOf: [ref, ref] } },
    };
    for (const [name, n] of Object.entries(compounding)) {
      expect(compilesOffThread(toolSchema(n)), name).toBe(true);
    }
    // through $dynamicRef, and through a second definition
    expect(
      compilesOffThread(
        toolSchema({
          $dynamicAnchor: 'n',
          anyOf: [
            { type: 'array', items: { $dynamicRef: '#n' }, maxItems: 0 },
            { type: 'array', items: { $dynamicRef: '#n' } },
          ],
        }),
      ),
    ).toBe(true);
    expect(
      compilesOffThread(
        toolSchema(
          { anyOf: [{ $ref: '#/$defs/m' }, array()] },
          { m: { type: 'array', items: ref, maxItems: 0 } },
        ),
      ),
    ).toBe(true);
    const linear: Record<string, JSONSchema> = {
      'a tree of nodes': object({
        properties: { name: { type: 'string' }, children: { type: 'array', items: ref } },
      }),
      'nested arrays': array(),
      'a union whose variants recurse into different kinds': {
        anyOf: [array(), { type: 'object', additionalProperties: ref }, { type: 'string' }],
      },
      'a union of which one variant recurses': { anyOf: [{ type: 'string' }, array()] },
      'a nullable node': { anyOf: [object(), { type: 'null' }] },
      'a discriminated union recursing into different keys': {
        oneOf: [
          object({ properties: { op: { const: 'not' }, c: ref } }),
          object({ properties: { op: { const: 'and' }, all: { type: 'array', items: ref } } }),
        ],
      },
      'properties and additionalProperties': object({ additionalProperties: ref }),
      'a pattern that matches no property': object({ patternProperties: { '^x-': ref } }),
      'prefixItems and items past them': { type: 'array', prefixItems: [ref], items: ref },
      'contains alone': { type: 'array', contains: ref },
      'unevaluatedProperties: false': object({ anyOf: [{ required: ['c'] }], unevaluatedProperties: false }),
    };
    for (const [name, n] of Object.entries(linear)) {
      expect(compilesOffThread(toolSchema(n)), name).toBe(false);
    }
  });

  it('counts as costly what it cannot follow: a reference it does not resolve, a cycle of references', () => {
    expect(compoundsWithDepth(toolSchema({ $ref: 'https://example.test/node.json' }))).toBe(true);
    expect(compoundsWithDepth(toolSchema({ allOf: [ref] }))).toBe(true);
    // a pointer to nothing: Ajv refuses the schema where it is defined
    expect(compoundsWithDepth({ type: 'object', properties: { a: { $ref: '#/nowhere' } } })).toBe(false);
    expect(compoundsWithDepth({ type: 'object', properties: { a: { $ref: '#/type' } } })).toBe(true);
    // an anchor, and an `$id` with a pointer from it, are followed
    expect(
      compoundsWithDepth({
        type: 'object',
        properties: { tree: { $ref: '#node' } },
        $defs: { n: { $anchor: 'node', type: 'array', items: { $ref: '#node' } } },
      }),
    ).toBe(false);
    expect(
      compoundsWithDepth({
        type: 'object',
        properties: { tree: { $ref: 'tree.json#/$defs/n' } },
        $defs: { t: { $id: 'tree.json', $defs: { n: { type: 'array', items: { $ref: '#/$defs/n' } } } } },
      }),
    ).toBe(false);
  });

  it('finds a place of the value evaluated many times by references repeated there, level after level, without recursion', () => {
    // each level an allOf of `times` references to the next (or the next in `times` keywords that
    // lead to the same entries): times^levels evaluations of the last at one place
    const multiplied: [string, JSONSchema][] = [
      ['an allOf of two $refs to the next, 6 levels', chainOf(6, (next) => ({ allOf: [next, next] }))],
      [
        'an allOf of three $refs to the next, 4 levels',
        chainOf(4, (next) => ({ allOf: [next, next, next] })),
      ],
      ['an anyOf of two $refs to the next, 6 levels', chainOf(6, (next) => ({ anyOf: [next, next] }))],
      [
        'items and contains leading to the next, 6 levels',
        chainOf(6, (next) => ({ items: next, contains: next })),
      ],
      [
        'then and if leading to the next, 6 levels',
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
        chainOf(6, (next) => ({ if: next, then: next })),
      ],
    ];
    for (const [name, schema] of multiplied) expect(compilesOffThread(schema), name).toBe(true);
    // below an ordinary tree (recursive, but not compounding with its depth)
    expect(
      compilesOffThread(
        toolSchema(
          {
            type: 'object',
            properties: { children: { type: 'array', items: ref }, meta: { $ref: '#/$defs/d0' } },
          },
          chainOf(6, (next) => ({ allOf: [next, next] })).$defs as Record<string, JSONSchema>,
        ),
      ),
    ).toBe(true);
    const ordinary: [string, JSONSchema][] = [
      ['a chain of single references, 20 levels', chainOf(20, (next) => ({ allOf: [next] }))],
      [
        'an allOf of a reference and the next, 12 levels',
        chainOf(12, (next) => ({ allOf: [{ $ref: '#/$defs/base' }, next] }), { base: { required: ['a'] } }),
      ],
      ['an allOf of two $refs to one definition, once', chainOf(1, (next) => ({ allOf: [next, next] }))],
      [
        'variants that each extend one base (allOf)',
        {
          type: 'object',
          properties: {
            event: {
              oneOf: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((kind) => ({
                allOf: [{ $ref: '#/$defs/base' }, { properties: { kind: { const: kind } } }],
              })),
            },
          },
          $defs: {
            base: {
              type: 'object',
              properties: { id: { type: 'string' }, meta: { $ref: '#/$defs/meta' } },
              required: ['id'],
            },
            meta: { type: 'object', additionalProperties: { type: 'string' } },
          },
        },
      ],
      [
        'one definition under many properties',
        {
          type: 'object',
          properties: Object.fromEntries(
            ['from', 'to', 'cc', 'bcc', 'replyTo', 'sender'].map((key) => [
              key,
              { type: 'array', items: { $ref: '#/$defs/address' } },
            ]),
          ),
          $defs: {
            address: {
              type: 'object',
              properties: { name: { $ref: '#/$defs/text' }, email: { $ref: '#/$defs/text' } },
            },
            text: { type: 'string' },
          },
        },
      ],
    ];
    for (const [name, schema] of ordinary) expect(compilesOffThread(schema), name).toBe(false);
  });

  it('keeps a recursion through then and else on the main thread: Ajv applies one of them', () => {
    const object = (extra: JSONSchema = {}) => ({ type: 'object', ...extra });
    const recursing = { properties: { c: ref } };
    const linear: Record<string, JSONSchema> = {
      'then and else by a const': object({
        if: { properties: { op: { const: 'and' } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
        then: recursing,
        else: recursing,
      }),
      'a chain of if/then/else by a const': object({
        if: { properties: { op: { const: 'a' } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
        then: recursing,
        else: {
          if: { properties: { op: { const: 'b' } } },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
          then: recursing,
          else: { properties: { c: ref, d: ref } },
        },
      }),
      // Ajv ignores `if` without `then` and `else`, and `then` or `else` without `if`
      'if alone beside properties': object({ properties: { c: ref }, if: recursing }),
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
      'then alone beside properties': object({ properties: { c: ref }, then: recursing }),
    };
    for (const [name, n] of Object.entries(linear)) {
      expect(compilesOffThread(toolSchema(n)), name).toBe(false);
    }
    const compounding: Record<string, JSONSchema> = {
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
      'then beside properties': object({ properties: { c: ref }, if: { required: ['op'] }, then: recursing }),
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
      'if and else': object({ if: recursing, then: { required: ['op'] }, else: recursing }),
      'then and else, each twice': object({
        if: { required: ['op'] },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
        then: { allOf: [recursing, recursing] },
        else: recursing,
      }),
    };
    for (const [name, n] of Object.entries(compounding)) {
      expect(compilesOffThread(toolSchema(n)), name).toBe(true);
    }
  });

  it('sends to the thread a union whose variants share a recursive definition: each multiplies its check', () => {
    // as many runs as variants at every level, not more: linear, but a tree of 3,300 invalid
    // entries under six variants held the event loop 50 ms in one call
    const node = {
      type: 'object',
      properties: { name: { type: 'string' }, children: { type: 'array', items: ref } },
    };
    const shared = (kinds: string[]) => ({
      type: 'object',
      properties: {
        op: {
          anyOf: kinds.map((kind) => ({ type: 'object', properties: { kind: { const: kind }, root: ref } })),
        },
      },
      $defs: { n: node },
    });
    expect(compilesOffThread(shared(['a', 'b']))).toBe(true);
    expect(compilesOffThread(shared(['a', 'b', 'c', 'd', 'e', 'f']))).toBe(true);
    // parted into different keys, or one of them not recursing: one run each
    expect(
      compilesOffThread({
        ...shared([]),
        properties: {
          op: {
            anyOf: [
              { type: 'object', properties: { kind: { const: 'a' }, root: ref } },
              { type: 'object', properties: { kind: { const: 'b' }, other: ref } },
              { type: 'object', properties: { kind: { const: 'c' }, root: { type: 'string' } } },
            ],
          },
        },
      }),
    ).toBe(false);
  });

  it('sends every schema of a family of compounding shapes to the validation thread', () => {
    fc.assert(
      fc.property(compoundingSchemas(), (schema) => {
        expect(compilesOffThread(schema)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('finds every schema of a family of references repeated at one place, level after level', () => {
    const levels: ((next: JSONSchema, times: number) => JSONSchema)[] = [
      (next, times) => ({ allOf: Array.from({ length: times }, () => next) }),
      (next, times) => ({ anyOf: Array.from({ length: times }, () => next) }),
      (next, times) => ({
        oneOf: [{ type: 'null' }, ...Array.from({ length: times }, () => next)],
      }),
      (next) => ({ type: 'array', items: next, contains: next }),
      (next) => ({ allOf: [{ properties: { a: next } }, { patternProperties: { '^a': next } }] }),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: levels.length - 1 }),
        fc.integer({ min: 2, max: 3 }),
        fc.integer({ min: 6, max: 9 }),
        (kind, times, depth) => {
          expect(compoundsWithDepth(chainOf(depth, (next) => levels[kind]!(next, times)))).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps every schema of a family of linear recursive shapes on the main thread', () => {
    fc.assert(
      fc.property(linearSchemas(), (schema) => {
        expect(compilesOffThread(schema)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * A tool schema whose property `tree` is `$defs.d0`, each `$defs.d<i>` made by `level` of a
 * reference to the next, the last an array of `{ a, b }` items.
 */
function chainOf(
  levels: number,
  level: (next: JSONSchema) => JSONSchema,
  defs: Record<string, JSONSchema> = {},
): JSONSchema {
  const chain: Record<string, JSONSchema> = { ...defs };
  for (let at = 0; at < levels; at++) chain[`d${at}`] = level({ $ref: `#/$defs/d${at + 1}` });
  chain[`d${levels}`] = {
    type: 'array',
    items: {
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'number' } },
      required: ['a', 'b'],
    },
  };
  return { type: 'object', properties: { tree: { $ref: '#/$defs/d0' } }, $defs: chain };
}

/** How a node steps down to the next level: into an array's items, or into a property. */
type Down = { kind: 'array' } | { kind: 'object'; key: string };

const keys = fc.constantFrom('c', 'child', 'next', 'node', 'value');
const down: fc.Arbitrary<Down> = fc.oneof(
  fc.constant<Down>({ kind: 'array' }),
  keys.map((key): Down => ({ kind: 'object', key })),
);

/** A reference to `n`: `$ref`, or `$dynamicRef` (`n` then has the anchor). */
const references = fc.constantFrom<JSONSchema>(ref, { $dynamicRef: '#n' });

/** The keywords that apply `target` one level down (no `type`). */
function stepOf(way: Down, target: JSONSchema): JSONSchema {
  return way.kind === 'array' ? { items: target } : { properties: { [way.key]: target } };
}

function typed(way: Down, schema: JSONSchema): JSONSchema {
  return { type: way.kind, ...schema };
}

/** Keywords that fail some values after the recursion, or none. */
const extras = fc.constantFrom<JSONSchema>(
  {},
  { maxItems: 0 },
  { minProperties: 3 },
  { contains: { type: 'string' } },
  {
    required: ['zz'],
  },
);

/** Unrelated properties beside the recursing one. */
const siblings = fc.dictionary(
  fc.constantFrom('title', 'count', 'flag', 'tags'),
  fc.constantFrom<JSONSchema>(
    { type: 'string' },
    { type: 'integer' },
    { type: 'array', items: { type: 'string' } },
  ),
  { maxKeys: 3 },
);

/** The tool schema around `n`: `n` reached from `tree`, maybe through a definition in between. */
function around(n: JSONSchema, via: boolean, reference: JSONSchema, others: Record<string, JSONSchema>) {
  const node = '$dynamicRef' in reference ? { $dynamicAnchor: 'n', ...n } : n;
  return {
    type: 'object',
    properties: { ...others, tree: via ? { $ref: '#/$defs/m' } : ref },
    $defs: { n: node, ...(via ? { m: { anyOf: [{ type: 'null' }, ref] } } : {}) },
  } satisfies JSONSchema;
}

/** Recursive schemas where one place of the value is evaluated twice, both times recursing. */
function compoundingSchemas(): fc.Arbitrary<JSONSchema> {
  return fc
    .tuple(down, references, extras, extras, fc.integer({ min: 0, max: 8 }), fc.boolean(), siblings)
    .map(([way, reference, first, second, kind, via, others]) => {
      const step = stepOf(way, reference);
      const recursing = (extra: JSONSchema) => typed(way, { ...step, ...extra });
      const sites: JSONSchema[] = [
        { anyOf: [recursing(first), recursing(second)] },
        { oneOf: [recursing(first), { type: 'boolean' }, recursing(second)] },
        typed(way, { allOf: [step, { ...step, ...second }] }),
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
        typed(way, { if: step, then: { ...step, ...first } }),
        typed(way, { if: step, else: step }),
        typed(way, { ...step, not: { ...step, ...first } }),
        way.kind === 'array'
          ? { type: 'array', items: reference, contains: reference }
          : { type: 'object', ...step, dependentSchemas: { [way.key]: step } },
        way.kind === 'array'
          ? { type: 'array', anyOf: [{ prefixItems: [reference] }], unevaluatedItems: reference }
          : { type: 'object', anyOf: [step], unevaluatedProperties: reference },
        recursing({ allOf: [step] }),
      ];
      return around(sites[kind]!, via, reference, others);
    });
}

/** Recursive schemas whose check is linear in the value: each place of it evaluated once per way down. */
function linearSchemas(): fc.Arbitrary<JSONSchema> {
  return fc
    .tuple(
      fc.uniqueArray(keys, { minLength: 1, maxLength: 3 }),
      siblings,
      fc.integer({ min: 0, max: 6 }),
      references,
      extras,
      fc.boolean(),
      siblings,
    )
    .map(([recursingKeys, own, kind, reference, extra, via, others]) => {
      const properties: Record<string, JSONSchema> = { ...own };
      recursingKeys.forEach((key, index) => {
        properties[key] = index % 2 === 0 ? reference : { type: 'array', items: reference };
      });
      const tree = { type: 'object', properties, ...extra };
      const nodes: JSONSchema[] = [
        tree,
        // variants of different kinds
        { anyOf: [tree, { type: 'array', items: reference }, { type: 'string' }] },
        { anyOf: [{ type: 'null' }, tree] },
        // a discriminated union of which one variant recurses
        {
          oneOf: [
            { ...tree, properties: { ...properties, kind: { const: 'branch' } } },
            { type: 'object', properties: { kind: { const: 'leaf' }, value: { type: 'string' } } },
          ],
        },
        { ...tree, additionalProperties: { type: 'string' } },
        { type: 'array', prefixItems: [{ type: 'string' }, reference], items: { type: 'integer' } },
        // one more recursing key through `then` or `else` (Ajv applies one of them)
        {
          ...tree,
          if: { properties: { op: { const: 'x' } } },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
          then: { properties: { other: reference } },
          else: { properties: { other: { type: 'array', items: reference } } },
        },
      ];
      return around(nodes[kind]!, via, reference, others);
    });
}

describe('a small schema whose check compounds with depth', () => {
  const quiet = { debug() {}, warn() {}, error() {} };
  /** Four variants, three of which fail only after checking the items below: ×4 per level, 13 levels are seconds. */
  const fourWays: JSONSchema = toolSchema({
    anyOf: [
      { type: 'array', items: ref, maxItems: 0 },
      { type: 'array', items: ref, contains: { type: 'string' } },
      { type: 'array', items: ref, minItems: 2 },
      { type: 'array', items: ref },
    ],
  });

  /**
   * A ToolMux with `ACME_TREE` ({@link fourWays}), `ACME_FOREST` (a list of them), `ACME_CHAIN`
   * (references repeated at one place, ten levels) and `ACME_NOTE` (handled into `seen`).
   */
  function muxOf(seen: unknown[]): ToolMux {
    return new ToolMux({
      toolkits: [
        defineToolkit({
          slug: 'acme',
          description: 'Acme',
          tools: [
            defineTool({
              slug: 'ACME_TREE',
              description: 'Nested arrays',
              inputSchema: fourWays,
              execute: async () => ({ ok: true }),
            }),
            defineTool({
              slug: 'ACME_FOREST',
              description: 'A list of nested arrays',
              // its node under `properties` (no `$defs`): the sliced check cuts the list
              inputSchema: JSON.parse(
                JSON.stringify({
                  type: 'object',
                  properties: { list: { type: 'array', items: ref }, node: (fourWays.$defs as JSONSchema).n },
                }).replaceAll('#/$defs/n', '#/properties/node'),
              ),
              execute: async () => ({ ok: true }),
            }),
            defineTool({
              slug: 'ACME_CHAIN',
              description: 'References repeated at one place',
              inputSchema: chainOf(10, (next) => ({ allOf: [next, next] })),
              execute: async () => ({ ok: true }),
            }),
            defineTool({
              slug: 'ACME_NOTE',
              description: 'A note',
              inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
              execute: async (input) => {
                seen.push(input);
                return { ok: true };
              },
            }),
          ],
        }),
      ],
      store: ':memory:',
      logger: quiet,
    });
  }

  it('is refused within the thread’s budget while another session’s ordinary call is answered, the event loop never held', async () => {
    const seen: unknown[] = [];
    const mux = muxOf(seen);
    try {
      const attacker = await mux.create('user_1', { toolkits: ['acme'] });
      const other = await mux.create('user_2', { toolkits: ['acme'] });
      // the thread and both documents ready (a first compile is not what is measured)
      expect(await attacker.execute('ACME_TREE', { tree: nested(3) })).toMatchObject({ successful: true });
      expect(await other.execute('ACME_NOTE', { text: 'warm' })).toMatchObject({ successful: true });
      const measured = await longestTurn(async () => {
        const order: string[] = [];
        // 4^13 checks of 28 bytes: seconds of Ajv's one synchronous call, on the main thread before
        const hostile = attacker.execute('ACME_TREE', { tree: nested(13) }).then((result) => {
          order.push('hostile');
          return result;
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
        const ordinary = await other.execute('ACME_NOTE', { text: 'hello' });
        order.push('ordinary');
        return { hostile: await hostile, ordinary, order };
      }, 60);
      const { hostile, ordinary, order } = measured.value;
      expect(ordinary).toMatchObject({ successful: true, data: { ok: true } });
      expect(seen.at(-1)).toEqual({ text: 'hello' });
      // answered while the check of the other call went on in the thread
      expect(order).toEqual(['ordinary', 'hostile']);
      expect(hostile).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(hostile.error).toContain(
        'Invalid arguments for ACME_TREE: (root): could not be checked against the schema in time',
      );
      expect(hostile.error).toContain('send a smaller or less deeply nested value');
      expect(measured.turnMs, turnReport(measured)).toBeLessThan(60);
    } finally {
      await mux.close();
    }
  }, 120_000);

  it('is checked in the thread when references repeated at one place multiply, without recursion', async () => {
    // 2^10 evaluations of the last definition at one place: 1,000 invalid items (18 KB, under the
    // size the sliced check cuts) held the event loop 0.8-1.7 s of CPU in one Ajv call
    const mux = muxOf([]);
    try {
      const session = await mux.create('user_1', { toolkits: ['acme'] });
      expect(await session.execute('ACME_CHAIN', { tree: [{ a: 'a', b: 1 }] })).toMatchObject({
        successful: true,
      });
      const tree = Array.from({ length: 1_000 }, () => ({ a: 1, b: 'x' }));
      const measured = await longestTurn(() => session.execute('ACME_CHAIN', { tree }), 60);
      expect(measured.value).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(measured.value.error).toMatch(/^Invalid arguments for ACME_CHAIN: /);
      expect(measured.turnMs, turnReport(measured)).toBeLessThan(60);
    } finally {
      await mux.close();
    }
  }, 120_000);

  it('is not cut into parts checked on the main thread when the arguments are large', async () => {
    const mux = muxOf([]);
    try {
      const session = await mux.create('user_1', { toolkits: ['acme'] });
      expect(await session.execute('ACME_FOREST', { list: [nested(2)] })).toMatchObject({ successful: true });
      // 600 items of 8 levels (5,400 entries: a large call): the sliced check ran runs of ~110 of
      // them, 4^8 evaluations each, in each of its calls of Ajv on the main thread (0.7 s a turn)
      const measured = await longestTurn(
        () => session.execute('ACME_FOREST', { list: Array.from({ length: 600 }, () => nested(8)) }),
        60,
      );
      expect(measured.value).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(measured.value.error).toContain('could not be checked against the schema in time');
      expect(measured.turnMs, turnReport(measured)).toBeLessThan(60);
    } finally {
      await mux.close();
    }
  }, 120_000);
});
