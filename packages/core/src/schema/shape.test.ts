import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JSONSchema } from '../catalog/types.js';
import { shapeInputSchema } from './shape.js';

/** Every value stored under `key` anywhere in the tree (data included, so nothing hides). */
function valuesOfKey(value: unknown, key: string): unknown[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([name, child]) => [
    ...(name === key ? [child] : []),
    ...valuesOfKey(child, key),
  ]);
}

function property(schema: JSONSchema, ...path: string[]): JSONSchema {
  return path.reduce((node, name) => (node.properties as Record<string, JSONSchema>)[name]!, schema);
}

const Category: z.ZodType<{ name: string; subcategories?: unknown[] }> = z.object({
  name: z.string(),
  get subcategories() {
    return z.array(Category).optional();
  },
});

const hardSchema = z.object({
  title: z.string().min(1).describe('Issue title'),
  labels: z.array(z.string()).default([]).describe('Labels to add'),
  state: z.enum(['open', 'closed']).optional(),
  assignee: z.object({ login: z.string() }).nullable(),
  milestone: z.number().int().nullish(),
  metadata: z.record(z.string(), z.string()).optional(),
  target: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('repo'), repo: z.string() }),
    z.object({ kind: z.literal('org'), org: z.string() }),
  ]),
  category: Category,
  email: z.email().optional(),
});

describe('shapeInputSchema', () => {
  it('turns a hard zod schema into an object root without any $ref, keeping descriptions, enums and defaults', () => {
    const source = z.toJSONSchema(hardSchema, { io: 'input' });
    const { schema, warnings } = shapeInputSchema(source);

    expect(schema.type).toBe('object');
    expect(valuesOfKey(schema, '$ref')).toEqual([]);
    expect(valuesOfKey(schema, '$defs')).toEqual([]);
    expect(valuesOfKey(schema, '$schema')).toEqual([]);
    expect(property(schema, 'title')).toEqual({ type: 'string', minLength: 1, description: 'Issue title' });
    expect(property(schema, 'labels')).toMatchObject({ default: [], description: 'Labels to add' });
    expect(property(schema, 'state')).toEqual({ type: 'string', enum: ['open', 'closed'] });
    expect(property(schema, 'email').format).toBe('email');
    expect(property(schema, 'category', 'name')).toEqual({ type: 'string' });
    expect(warnings).toHaveLength(1); // the recursive category tree is cut
    expect(schema.required).toEqual(source.required);
  });

  it('returns a plain JSON copy without zod hidden markers', () => {
    const source = z.toJSONSchema(z.object({ a: z.string() }), { io: 'input' });
    const { schema } = shapeInputSchema(source);
    expect(Object.getOwnPropertyNames(schema)).not.toContain('~standard');
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });

  it('gives an untyped root with properties type object, and a root without properties an empty one', () => {
    expect(shapeInputSchema({ properties: { q: { type: 'string' } }, required: ['q'] }).schema).toEqual({
      type: 'object',
      properties: { q: { type: 'string' } },
      required: ['q'],
    });
    const empty = shapeInputSchema({});
    expect(empty.schema).toEqual({ type: 'object', properties: {} });
    expect(empty.warnings).toEqual([]);
    expect(shapeInputSchema({ type: ['object', 'null'] }).schema).toEqual({ type: 'object', properties: {} });
  });

  it('replaces a root that is not an object by a permissive object, with a warning', () => {
    for (const root of [
      { type: 'string' },
      { anyOf: [{ type: 'string' }, { type: 'number' }] },
      { type: 'array', items: {} },
    ]) {
      const { schema, warnings } = shapeInputSchema(root);
      expect(schema).toEqual({ type: 'object', properties: {}, additionalProperties: true });
      expect(warnings).toEqual([expect.stringContaining('not an object schema')]);
    }
  });

  it('merges a root allOf (OpenAPI composition) and falls back when it cannot', () => {
    const composed: JSONSchema = {
      allOf: [
        { $ref: '#/definitions/Base' },
        { type: 'object', properties: { body: { type: 'string' } }, required: ['body'] },
      ],
      definitions: { Base: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
    };
    expect(shapeInputSchema(composed)).toEqual({
      schema: {
        type: 'object',
        properties: { id: { type: 'string' }, body: { type: 'string' } },
        required: ['id', 'body'],
      },
      warnings: [],
    });

    const conflicting = shapeInputSchema({ allOf: [{ type: 'object' }, { type: 'string' }] });
    expect(conflicting.schema).toEqual({ type: 'object', properties: {}, additionalProperties: true });
    expect(conflicting.warnings[0]).toContain('no type in common');
  });

  it('drops root-level oneOf / anyOf beside the object, with a warning', () => {
    const { schema, warnings } = shapeInputSchema({
      type: 'object',
      properties: { id: { type: 'string' }, email: { type: 'string' } },
      oneOf: [{ required: ['id'] }, { required: ['email'] }],
    });
    expect(schema).toEqual({
      type: 'object',
      properties: { id: { type: 'string' }, email: { type: 'string' } },
      description: 'Exactly one of these forms: { id } or { email }.',
    });
    expect(warnings).toEqual([expect.stringContaining('oneOf')]);
  });

  it('lists the properties of a root anyOf / oneOf of objects at the root: required when every variant requires them, the variants described', () => {
    const byIdOrName = shapeInputSchema({
      type: 'object',
      description: 'Find a user.',
      anyOf: [
        { properties: { id: { type: 'string' }, full: { type: 'boolean' } }, required: ['id'] },
        { properties: { name: { type: 'string' }, full: { type: 'boolean' } }, required: ['name'] },
      ],
    });
    expect(byIdOrName.schema).toEqual({
      type: 'object',
      description: 'Find a user.\n\nOne or more of these forms: { id, full? } or { name, full? }.',
      properties: { id: { type: 'string' }, full: { type: 'boolean' }, name: { type: 'string' } },
    });
    expect(byIdOrName.warnings).toEqual([expect.stringContaining('properties of the anyOf variants')]);

    // a discriminated union (no root type): the discriminator one enum, a property defined
    // differently by two variants any of them, closed when every variant is
    const actions = shapeInputSchema({
      oneOf: [
        {
          type: 'object',
          properties: { action: { const: 'move' }, to: { type: 'string' }, by: { type: 'number' } },
          required: ['action', 'to'],
          additionalProperties: false,
        },
        {
          type: 'object',
          properties: { action: { type: 'string', const: 'wait' }, by: { type: 'integer' } },
          required: ['action', 'by'],
          additionalProperties: false,
        },
      ],
    });
    expect(actions.schema).toEqual({
      type: 'object',
      description: 'Exactly one of these forms: { action: "move", to, by? } or { action: "wait", by }.',
      properties: {
        action: { enum: ['move', 'wait'] },
        to: { type: 'string' },
        by: { anyOf: [{ type: 'number' }, { type: 'integer' }] },
      },
      required: ['action'],
      additionalProperties: false,
    });

    // the root's own properties win, and variants of another type are no object's
    const own = shapeInputSchema({
      type: 'object',
      properties: { id: { type: 'string', description: 'The id' } },
      anyOf: [{ properties: { id: { type: 'number' } }, required: ['id'] }, { type: 'string' }],
    });
    expect(own.schema).toEqual({
      type: 'object',
      properties: { id: { type: 'string', description: 'The id' } },
      required: ['id'],
      description: 'One or more of these forms: { id }.',
    });
  });

  it('rewrites OpenAPI nullable: true as JSON Schema null unions, at any depth', () => {
    const openApi: JSONSchema = {
      type: 'object',
      properties: {
        name: { type: 'string', nullable: true, description: 'Name' },
        status: { type: 'string', enum: ['a', 'b'], nullable: true },
        owner: { $ref: '#/components/schemas/User', nullable: true },
        flags: { type: 'array', items: { type: 'integer', nullable: true } },
        plain: { type: 'string', nullable: false },
      },
      components: { schemas: { User: { type: 'object', properties: { id: { type: 'string' } } } } },
    };
    const { schema } = shapeInputSchema(openApi);
    expect(property(schema, 'name')).toEqual({ type: ['string', 'null'], description: 'Name' });
    expect(property(schema, 'status')).toEqual({ type: ['string', 'null'], enum: ['a', 'b', null] });
    expect(property(schema, 'owner')).toEqual({
      anyOf: [{ type: 'object', properties: { id: { type: 'string' } } }, { type: 'null' }],
    });
    expect(property(schema, 'flags').items).toEqual({ type: ['integer', 'null'] });
    expect(property(schema, 'plain')).toEqual({ type: 'string' });
    expect(valuesOfKey(schema, 'nullable')).toEqual([]);
  });

  it('removes $schema and $id everywhere', () => {
    const { schema } = shapeInputSchema({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://example.com/tool.json',
      type: 'object',
      properties: { nested: { $id: 'nested', type: 'object', properties: {} } },
    });
    expect(valuesOfKey(schema, '$schema')).toEqual([]);
    expect(valuesOfKey(schema, '$id')).toEqual([]);
  });

  it('does not mutate its input', () => {
    const source = z.toJSONSchema(hardSchema, { io: 'input' });
    const before = structuredClone(source);
    shapeInputSchema(source);
    expect(source).toEqual(before);
  });
});
