import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JSONSchema } from '../catalog/types.js';
import { createNullStripper, stripNullsForOptional } from './nulls.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

describe('stripNullsForOptional', () => {
  const flat = z.toJSONSchema(
    z.object({
      title: z.string(),
      body: z.string().optional(),
      assignee: z.string().nullable(),
      milestone: z.number().nullish(),
      state: z.enum(['open', 'closed']).optional(),
      anything: z.unknown().optional(),
    }),
    { io: 'input' },
  );

  it('removes null only where the original field is optional and does not accept null', () => {
    const args = { title: null, body: null, assignee: null, milestone: null, state: null, anything: null };
    expect(stripNullsForOptional(flat, args)).toEqual({
      title: null,
      assignee: null,
      milestone: null,
      anything: null,
    });
  });

  it('never mutates the arguments and returns them unchanged when there is nothing to strip', () => {
    const args = deepFreeze({ title: 'Bug', body: null, state: 'open' });
    expect(stripNullsForOptional(flat, args)).toEqual({ title: 'Bug', state: 'open' });
    expect(args).toEqual({ title: 'Bug', body: null, state: 'open' });

    const clean = { title: 'Bug', body: 'text' };
    expect(stripNullsForOptional(flat, clean)).toBe(clean);
    expect(stripNullsForOptional(flat, 'not an object')).toBe('not an object');
  });

  it('follows nested objects, arrays of objects and nullable objects', () => {
    const schema = z.toJSONSchema(
      z.object({
        address: z.object({
          street: z.string(),
          city: z.string().optional(),
          geo: z.object({ lat: z.number().optional() }).optional(),
        }),
        lines: z.array(z.object({ sku: z.string(), note: z.string().optional() })),
        owner: z.object({ login: z.string(), team: z.string().optional() }).nullable().optional(),
      }),
      { io: 'input' },
    );
    const args = deepFreeze({
      address: { street: 'Main 1', city: null, geo: { lat: null } },
      lines: [
        { sku: 'a', note: null },
        { sku: 'b', note: 'gift' },
      ],
      owner: { login: 'ada', team: null },
    });
    expect(stripNullsForOptional(schema, args)).toEqual({
      address: { street: 'Main 1', geo: {} },
      lines: [{ sku: 'a' }, { sku: 'b', note: 'gift' }],
      owner: { login: 'ada' },
    });
    const unchangedLines = { address: { street: 'x' }, lines: [{ sku: 'a' }], owner: null };
    const result = stripNullsForOptional(schema, unchangedLines) as typeof unchangedLines;
    expect(result).toBe(unchangedLines);
  });

  it('picks the variant of a discriminated union by its discriminator', () => {
    const schema = z.toJSONSchema(
      z.object({
        target: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('repo'), repo: z.string(), branch: z.string().optional() }),
          z.object({ kind: z.literal('org'), org: z.string(), team: z.string().nullable().optional() }),
        ]),
      }),
      { io: 'input' },
    );
    expect(stripNullsForOptional(schema, { target: { kind: 'repo', repo: 'r', branch: null } })).toEqual({
      target: { kind: 'repo', repo: 'r' },
    });
    // `team` accepts null in the org variant, so its null is a real value.
    expect(stripNullsForOptional(schema, { target: { kind: 'org', org: 'o', team: null } })).toEqual({
      target: { kind: 'org', org: 'o', team: null },
    });
  });

  it("removes the nulls of the other variants' properties (the model is shown them all), not those the object declares", () => {
    const schema = z.toJSONSchema(
      z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('move'), to: z.string() }).strict(),
        z.object({ kind: z.literal('wait'), seconds: z.number(), note: z.string().nullable() }).strict(),
      ]),
      { io: 'input' },
    );
    expect(stripNullsForOptional(schema, { kind: 'move', to: 'x', seconds: null, note: null })).toEqual({
      kind: 'move',
      to: 'x',
    });
    // the chosen variant's own null stays (it accepts it, or validation names it)
    expect(stripNullsForOptional(schema, { kind: 'wait', seconds: 3, note: null, to: null })).toEqual({
      kind: 'wait',
      seconds: 3,
      note: null,
    });
    const beside: JSONSchema = {
      type: 'object',
      properties: { shared: { type: ['string', 'null'] } },
      anyOf: [
        { properties: { id: { type: 'string' } }, required: ['id'] },
        { properties: { name: { type: 'string' } }, required: ['name'] },
      ],
    };
    expect(stripNullsForOptional(beside, { id: 'i', name: null, shared: null })).toEqual({
      id: 'i',
      shared: null,
    });
  });

  it("follows the variant that declares the value's keys when one variant's required keys are a subset of another's", () => {
    const schema = z.toJSONSchema(
      z.object({
        target: z.union([
          z.strictObject({ name: z.string(), exact: z.boolean().optional() }),
          z.strictObject({
            name: z.string(),
            page: z.number(),
            filter: z.object({ label: z.string().optional() }).optional(),
          }),
        ]),
      }),
      { io: 'input' },
    );
    // what a strict model sends for the second variant: null for the optional label
    expect(
      stripNullsForOptional(schema, { target: { name: 'x', page: 2, filter: { label: null } } }),
    ).toEqual({
      target: { name: 'x', page: 2, filter: {} },
    });
    // the first variant still, for its own keys
    expect(stripNullsForOptional(schema, { target: { name: 'x', exact: null } })).toEqual({
      target: { name: 'x' },
    });
  });

  it('follows $ref, recursion deeper than shaping expands, and allOf parts', () => {
    const Node: z.ZodType<unknown> = z.object({
      name: z.string(),
      label: z.string().optional(),
      get children() {
        return z.array(Node).optional();
      },
    });
    const schema = z.toJSONSchema(z.object({ tree: Node }), { io: 'input' });
    let deep: Record<string, unknown> = { name: 'leaf', label: null, children: null };
    for (let level = 0; level < 6; level++) deep = { name: `n${level}`, label: null, children: [deep] };
    let expected: Record<string, unknown> = { name: 'leaf' };
    for (let level = 0; level < 6; level++) expected = { name: `n${level}`, children: [expected] };
    expect(stripNullsForOptional(schema, { tree: deep })).toEqual({ tree: expected });

    const openApi: JSONSchema = {
      type: 'object',
      properties: {
        issue: { allOf: [{ $ref: '#/definitions/Base' }, { properties: { body: { type: 'string' } } }] },
      },
      definitions: {
        Base: {
          type: 'object',
          properties: { id: { type: 'integer' }, note: { type: 'string', nullable: true } },
          required: ['id'],
        },
      },
    };
    expect(stripNullsForOptional(openApi, { issue: { id: null, body: null, note: null } })).toEqual({
      issue: { id: null, note: null },
    });
  });

  it('builds the plan once: a stripper is a plain function of the arguments', () => {
    const strip = createNullStripper(flat);
    expect(strip({ title: 'a', body: null })).toEqual({ title: 'a' });
    expect(strip({ title: 'b', state: null })).toEqual({ title: 'b' });
    expect(
      createNullStripper({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] })({
        a: null,
      }),
    ).toEqual({ a: null });
  });
});
