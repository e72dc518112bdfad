import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../provider.js';
import { openaiInputSchemaOf } from './openai.js';
import { isModelPattern } from './patterns.js';

function spec(inputSchema: ToolSpec['inputSchema']): ToolSpec {
  return { slug: 'T_X', name: 'X', description: 'x', inputSchema, toolkit: 't', annotations: {} };
}

describe('isModelPattern', () => {
  it.each([
    ['^[a-z]+$', true],
    ['^(?:ab)+(?<name>c)$', true],
    ['^[(?=\\b]+\\(?!$', true],
    ['^(?=.*\\d).+$', false],
    ['^(?!x).+$', false],
    ['(?<=a)b', false],
    ['(?<!a)b', false],
    ['^(a)\\1$', false],
    ['\\bword\\b', false],
    [42, false],
  ])('%j → %s', (pattern, expected) => {
    expect(isModelPattern(pattern)).toBe(expected);
  });
});

describe('openaiInputSchemaOf', () => {
  it('hands out the input schema itself when no pattern is refused, and a described copy otherwise', () => {
    const plain = spec({ type: 'object', properties: { a: { type: 'string', pattern: '^a$' } } });
    expect(openaiInputSchemaOf(plain)).toBe(plain.inputSchema);
    const refused = spec({
      type: 'object',
      properties: {
        pattern: { type: 'string', pattern: '^(?!x)', format: 'hostname' },
        list: { type: 'array', items: { anyOf: [{ type: 'string', pattern: '(?<=a)b' }, { type: 'null' }] } },
      },
    });
    const schema = openaiInputSchemaOf(refused);
    expect(schema.properties).toEqual({
      pattern: { type: 'string', format: 'hostname' },
      list: {
        type: 'array',
        items: {
          anyOf: [
            { type: 'string', description: 'Must match the regular expression (?<=a)b.' },
            { type: 'null' },
          ],
        },
      },
    });
    expect(openaiInputSchemaOf(refused)).toBe(schema);
    expect((refused.inputSchema.properties as any).pattern.pattern).toBe('^(?!x)');
  });
});
