import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../provider.js';
import { anthropicStrictCost, anthropicStrictSchemaOf } from './anthropic-strict.js';

const spec = (inputSchema: ToolSpec['inputSchema']): ToolSpec => ({
  slug: 'T',
  name: 'T',
  description: 'T',
  inputSchema,
  toolkit: 't',
  annotations: {},
});

describe('anthropicStrictSchemaOf', () => {
  it('moves the bounds Anthropic strict mode refuses into descriptions, at every depth', () => {
    const result = anthropicStrictSchemaOf(
      spec({
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 50, description: 'Page size' },
          tags: { type: 'array', items: { type: 'string', maxLength: 20 }, minItems: 1 },
        },
        required: ['limit'],
      }),
    );
    expect(result).toEqual({
      strict: true,
      schema: {
        type: 'object',
        properties: {
          limit: { type: 'integer', description: 'Page size Must be at least 1, at most 50.' },
          // OpenAI strict mode already drops maxLength; minItems is described
          tags: {
            anyOf: [
              { type: 'array', items: { type: 'string' }, description: 'Must be at least 1 items.' },
              { type: 'null' },
            ],
          },
        },
        required: ['limit', 'tags'],
        additionalProperties: false,
      },
    });
  });

  it('falls back like strictSchemaOf for a schema that cannot be strict', () => {
    const record = spec({
      type: 'object',
      properties: { labels: { type: 'object', additionalProperties: { type: 'number' } } },
    });
    expect(anthropicStrictSchemaOf(record)).toMatchObject({
      strict: false,
      reason: expect.stringContaining('$.labels'),
    });
  });

  it('counts what a strict schema spends of the request limits: optional and union-typed parameters, at every depth', () => {
    const result = anthropicStrictSchemaOf(
      spec({
        type: 'object',
        properties: {
          q: { type: 'string' },
          page: { type: 'integer' },
          filter: {
            type: 'object',
            properties: { state: { enum: ['open', 'closed'] }, label: { type: 'string' } },
            required: ['state'],
          },
          items: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }] } },
        },
        required: ['q', 'items'],
      }),
    );
    if (!result.strict) throw new Error(result.reason);
    // page, filter and filter.label become nullable; the items' anyOf is a union of its own
    expect(anthropicStrictCost(result.schema)).toEqual({ optionalParameters: 0, unionParameters: 4 });
    expect(
      anthropicStrictCost({
        type: 'object',
        properties: { a: { type: 'string' }, b: { type: ['string', 'null'] } },
        required: [],
      }),
    ).toEqual({ optionalParameters: 2, unionParameters: 1 });
  });
});
