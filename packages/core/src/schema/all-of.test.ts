import { describe, expect, it } from 'vitest';
import { mergeAllOf } from './all-of.js';

describe('mergeAllOf', () => {
  it('unites properties, joins required, intersects types and keeps the outer description', () => {
    expect(
      mergeAllOf({
        description: 'A labelled issue',
        allOf: [
          {
            type: ['object', 'null'],
            description: 'Issue',
            properties: { id: { type: 'string' } },
            required: ['id'],
          },
          {
            type: 'object',
            properties: { id: { type: 'string', description: 'Issue id' }, labels: { type: 'array' } },
            required: ['labels', 'id'],
            allOf: [{ properties: { state: { enum: ['open'] } } }],
          },
        ],
      }),
    ).toEqual({
      ok: true,
      schema: {
        description: 'A labelled issue',
        type: 'object',
        properties: {
          id: { type: 'string', description: 'Issue id' },
          labels: { type: 'array' },
          state: { enum: ['open'] },
        },
        required: ['id', 'labels'],
      },
    });
  });

  it('returns a schema without allOf as it is', () => {
    const schema = { type: 'string' };
    expect(mergeAllOf(schema)).toEqual({ ok: true, schema });
  });

  it('fails, naming the keyword, when parts disagree', () => {
    expect(mergeAllOf({ allOf: [{ type: 'string' }, { type: 'number' }] })).toEqual({
      ok: false,
      reason: 'allOf parts have no type in common ("string" and "number")',
    });
    expect(
      mergeAllOf({
        allOf: [{ properties: { a: { maxLength: 3 } } }, { properties: { a: { maxLength: 5 } } }],
      }),
    ).toEqual({ ok: false, reason: 'property "a": allOf parts set "maxLength" to different values' });
    expect(mergeAllOf({ allOf: [true] })).toEqual({ ok: false, reason: 'allOf contains a boolean schema' });
  });
});
