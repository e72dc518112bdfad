import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JSONSchema } from '../catalog/types.js';
import { inlineLocalRefs, resolveLocalRef, schemaSize } from './inline-refs.js';

/** Every value stored under `key` anywhere in the tree (data included, so nothing hides). */
function valuesOfKey(value: unknown, key: string): unknown[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([name, child]) => [
    ...(name === key ? [child] : []),
    ...valuesOfKey(child, key),
  ]);
}

function expectNoRefs(schema: JSONSchema): void {
  expect(valuesOfKey(schema, '$ref')).toEqual([]);
  expect(valuesOfKey(schema, '$defs')).toEqual([]);
  expect(valuesOfKey(schema, 'definitions')).toEqual([]);
}

/** How many `children.items` levels a tree schema spells out before it ends in `{}`. */
function treeDepth(node: JSONSchema): number {
  const children = (node.properties as Record<string, JSONSchema> | undefined)?.children;
  const items = children?.items as JSONSchema | undefined;
  return items && Object.keys(items).length > 0 ? 1 + treeDepth(items) : 1;
}

const TreeNode: z.ZodType<{ name: string; children?: unknown[] }> = z.object({
  name: z.string().describe('Node name'),
  get children() {
    return z.array(TreeNode).optional();
  },
});

describe('inlineLocalRefs', () => {
  it('inlines zod $defs shared by several properties, keeping the description beside a $ref', () => {
    const Address = z
      .object({ street: z.string(), zip: z.string().optional() })
      .meta({ id: 'InlineTestAddress' });
    const source = z.toJSONSchema(
      z.object({ home: Address, work: Address.optional().describe('Work address') }),
      { io: 'input' },
    );
    expect(valuesOfKey(source, '$ref')).toHaveLength(2);

    const { schema, warnings } = inlineLocalRefs(source);

    expectNoRefs(schema);
    expect(warnings).toEqual([]);
    const properties = schema.properties as Record<string, JSONSchema>;
    expect(properties.home).toEqual({
      type: 'object',
      properties: { street: { type: 'string' }, zip: { type: 'string' } },
      required: ['street'],
    });
    expect(properties.work).toEqual({ ...properties.home, description: 'Work address' });
    expect(properties.work).not.toBe(properties.home);
  });

  it('inlines schemas zod reuses with reused: "ref"', () => {
    const shared = z.object({ x: z.string() });
    const source = z.toJSONSchema(z.object({ a: shared, b: z.array(shared) }), {
      io: 'input',
      reused: 'ref',
    });
    const { schema } = inlineLocalRefs(source);
    expectNoRefs(schema);
    expect((schema.properties as Record<string, JSONSchema>).b).toEqual({
      type: 'array',
      items: { type: 'object', properties: { x: { type: 'string' } }, required: ['x'] },
    });
  });

  it('expands a recursive zod tree to the depth limit, then accepts anything, with one warning', () => {
    const source = z.toJSONSchema(z.object({ tree: TreeNode }), { io: 'input' });
    const { schema, warnings } = inlineLocalRefs(source);

    expectNoRefs(schema);
    const tree = (schema.properties as Record<string, JSONSchema>).tree!;
    expect(treeDepth(tree)).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/Recursive reference "#\/\$defs\/.+" was expanded 3 levels deep/);

    const deeper = inlineLocalRefs(source, { maxRecursion: 5 });
    expect(treeDepth((deeper.schema.properties as Record<string, JSONSchema>).tree!)).toBe(5);
  });

  it('handles recursion through the root (#) and mutual recursion', () => {
    const rootRecursive: JSONSchema = {
      type: 'object',
      properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#' } } },
    };
    const { schema, warnings } = inlineLocalRefs(rootRecursive, { maxRecursion: 2 });
    expectNoRefs(schema);
    expect(treeDepth(schema)).toBe(2);
    expect(warnings).toHaveLength(1);

    const mutual: JSONSchema = {
      type: 'object',
      properties: { a: { $ref: '#/definitions/A' } },
      definitions: {
        A: { type: 'object', properties: { b: { $ref: '#/definitions/B' } } },
        B: { type: 'object', properties: { a: { $ref: '#/definitions/A' } } },
      },
    };
    const result = inlineLocalRefs(mutual);
    expectNoRefs(result.schema);
    expect(result.warnings.length).toBeGreaterThan(0);
  });

  it('resolves draft-07 definitions, JSON pointers with ~0 ~1 and percent escapes', () => {
    const source: JSONSchema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: {
        slash: { $ref: '#/definitions/a~1b' },
        tilde: { $ref: '#/definitions/c~0d' },
        spaced: { $ref: '#/definitions/with%20space' },
        pointer: { $ref: '#/properties/slash' },
      },
      definitions: {
        'a/b': { type: 'string' },
        'c~d': { type: 'integer' },
        'with space': { type: 'boolean' },
      },
    };
    const { schema, warnings } = inlineLocalRefs(source);
    expect(warnings).toEqual([]);
    expect(schema.properties).toEqual({
      slash: { type: 'string' },
      tilde: { type: 'integer' },
      spaced: { type: 'boolean' },
      pointer: { type: 'string' },
    });
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  });

  it('keeps both schemas under allOf when $ref siblings conflict', () => {
    const source: JSONSchema = {
      type: 'object',
      properties: {
        extended: {
          $ref: '#/$defs/Base',
          properties: { extra: { type: 'number' } },
          description: 'Extended',
        },
        narrowed: { $ref: '#/$defs/Name', maxLength: 5 },
      },
      $defs: {
        Base: { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false },
        Name: { type: 'string', maxLength: 10 },
      },
    };
    const properties = inlineLocalRefs(source).schema.properties as Record<string, JSONSchema>;
    expect(properties.extended).toEqual({
      description: 'Extended',
      allOf: [
        { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false },
        { properties: { extra: { type: 'number' } } },
      ],
    });
    expect(properties.narrowed).toEqual({ allOf: [{ type: 'string', maxLength: 10 }, { maxLength: 5 }] });
  });

  it('replaces non-local, anchor and dangling references by {} with a warning each', () => {
    const source: JSONSchema = {
      type: 'object',
      properties: {
        remote: { $ref: 'https://example.com/schemas/user.json' },
        anchor: { $ref: '#user' },
        dangling: { $ref: '#/$defs/Missing' },
        never: { $ref: '#/$defs/Never' },
      },
      $defs: { Never: false },
    };
    const { schema, warnings } = inlineLocalRefs(source);
    expect(schema.properties).toEqual({ remote: {}, anchor: {}, dangling: {}, never: { not: {} } });
    expect(warnings).toHaveLength(3);
    expect(warnings.join('\n')).toContain('https://example.com/schemas/user.json');
    expect(warnings.join('\n')).toContain('#user');
    expect(warnings.join('\n')).toContain('#/$defs/Missing');
  });

  it('never mutates its input and shares no objects with it', () => {
    const source = z.toJSONSchema(z.object({ tree: TreeNode, tags: z.enum(['a', 'b']) }), { io: 'input' });
    const before = structuredClone(source);
    const { schema } = inlineLocalRefs(source);
    expect(source).toEqual(before);

    const tags = (schema.properties as Record<string, JSONSchema>).tags!;
    (tags.enum as string[]).push('c');
    expect(source).toEqual(before);
  });
});

describe('resolveLocalRef', () => {
  it('returns the subschema at a pointer, the root for #, and undefined for anything else', () => {
    const root: JSONSchema = { $defs: { A: { type: 'string' }, list: [{ type: 'number' }] } };
    expect(resolveLocalRef(root, '#/$defs/A')).toEqual({ type: 'string' });
    expect(resolveLocalRef(root, '#/$defs/list/0')).toEqual({ type: 'number' });
    expect(resolveLocalRef(root, '#')).toBe(root);
    expect(resolveLocalRef(root, '#/$defs/B')).toBeUndefined();
    expect(resolveLocalRef(root, '#/$defs/%E0%A4%A')).toBeUndefined();
    expect(resolveLocalRef(root, 'other.json#/$defs/A')).toBeUndefined();
  });
});

/** Subschemas of a schema without references (what inlining hands out), counted by the same rules. */
function subschemasIn(schema: JSONSchema): number {
  return schemaSize(schema, { subschemas: Number.MAX_SAFE_INTEGER, depth: Number.MAX_SAFE_INTEGER }).written;
}

/** `$defs` whose each level refers twice to the one before: `levels` lines that inline to 2^levels leaves. */
function doublingDefs(levels: number): JSONSchema {
  const $defs: Record<string, JSONSchema> = { L0: { type: 'string' } };
  for (let level = 1; level <= levels; level++) {
    $defs[`L${level}`] = { anyOf: [{ $ref: `#/$defs/L${level - 1}` }, { $ref: `#/$defs/L${level - 1}` }] };
  }
  return { type: 'object', properties: { x: { $ref: `#/$defs/L${levels}` } }, $defs };
}

describe('schemaSize', () => {
  const unlimited = { subschemas: Number.MAX_SAFE_INTEGER, depth: Number.MAX_SAFE_INTEGER };

  it('counts at least what inlining hands out, for references shared, nested and recursive', () => {
    const arbitraryDefs = fc.integer({ min: 1, max: 6 }).chain((count) =>
      fc.array(
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: count - 1 }).map((target) => ({ $ref: `#/$defs/D${target}` })),
            fc.constant({ type: 'string' }),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        { minLength: count, maxLength: count },
      ),
    );
    fc.assert(
      fc.property(arbitraryDefs, (lists) => {
        const $defs = Object.fromEntries(lists.map((anyOf, index) => [`D${index}`, { anyOf }]));
        const schema: JSONSchema = { type: 'object', properties: { x: { $ref: '#/$defs/D0' } }, $defs };
        const size = schemaSize(schema, unlimited);
        expect(subschemasIn(inlineLocalRefs(schema).schema)).toBeLessThanOrEqual(size.inlined);
        // bounded, the count stops at the limit
        const limit = Math.max(1, size.inlined - 1);
        expect(schemaSize(schema, { subschemas: limit, depth: unlimited.depth }).inlined).toBe(limit + 1);
      }),
      { numRuns: 300, seed: 2026 },
    );
  });

  it('stops past its limit on references that would expand to 2^60 subschemas, and counts $defs as written', () => {
    const schema = doublingDefs(60);
    const size = schemaSize(schema, { subschemas: 5000, depth: 128 });
    expect(size.inlined).toBe(5001);
    // as written: the root, x, the 61 definitions and their 120 references
    expect(size.written).toBe(2 + 61 + 120);
    const small = doublingDefs(3);
    expect(schemaSize(small, unlimited).inlined).toBeGreaterThanOrEqual(
      subschemasIn(inlineLocalRefs(small).schema),
    );
  });

  it('measures how deep a chain of references nests, with its own stack (20,000 links)', () => {
    const $defs: Record<string, JSONSchema> = { C0: { type: 'string' } };
    for (let link = 1; link <= 20_000; link++) $defs[`C${link}`] = { $ref: `#/$defs/C${link - 1}` };
    const schema: JSONSchema = { type: 'object', properties: { x: { $ref: '#/$defs/C20000' } }, $defs };
    expect(schemaSize(schema, { subschemas: 100_000, depth: 128 }).depth).toBe(129);
    expect(schemaSize(schema, unlimited).depth).toBe(20_003);
  });
});
