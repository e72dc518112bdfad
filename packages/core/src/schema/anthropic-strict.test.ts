import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../provider.js';
import { anthropicStrictSchemaOf } from './anthropic-strict.js';

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
});
